"""The transport contract and its errors (each with a title, a message and a hint)."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any


class TransportError(Exception):
    """An error the user can meet, ready for a screen or stderr."""

    title = "Connection failed"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message + (f" ({self.hint})" if self.hint else "")


class AgentUnavailable(TransportError):
    title = "Agent did not start"


class Disconnected(TransportError):
    title = "Disconnected"


class Transport(abc.ABC):
    """A bidirectional stream to one agent ``attach`` process."""

    host: str

    @abc.abstractmethod
    async def open(self) -> None:
        """Start the agent's attach process and connect its stdio."""

    @abc.abstractmethod
    async def readline(self) -> bytes:
        """One line from the agent; b"" when the stream ended."""

    @abc.abstractmethod
    async def write(self, data: bytes) -> None:
        """Send bytes to the agent."""

    @abc.abstractmethod
    async def close(self) -> None:
        """End the stream (the agent's daemon and runs keep going)."""

    async def transfer(
        self, push: bool, local: str, remote: str, force: bool, report: Callable[[Any], None]
    ) -> Any:
        """Copy ``local`` to ``remote`` (push) or back (pull); a transfer.Progress."""
        raise TransportError(f"{self.host} does not support file transfers")
