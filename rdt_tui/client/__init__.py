"""AgentClient: the one typed async API that the console and the headless CLI use."""

from .agent_client import AgentCallError, AgentClient, Subscription

__all__ = ["AgentCallError", "AgentClient", "Subscription"]
