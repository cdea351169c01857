"""On attach to a host: push the user's ``[notify]`` and ``[alerts]`` settings to its agent,
then say what the agent raised while no console was looking ("3 alerts while you were away")."""

from __future__ import annotations

from typing import Any

from textual.app import App

from ..client import AgentClient
from ..config.settings import Settings
from ..core.alerts import away_summary


async def on_attach(app: App[Any], client: AgentClient, settings: Settings) -> None:
    """Never fails the console: a problem is a notification, the host stays usable."""
    try:
        if settings.notify or settings.alerts:
            push: dict[str, Any] = {}  # only what the settings hold: the node keeps the rest
            if settings.alerts:
                push["rules"] = settings.alerts
            if settings.notify:
                push["notify"] = settings.notify
            await client.notify(push)
        doc = await client.alerts(unseen=True, mark_seen=True)
    except Exception as exc:
        app.notify(f"alerts on {client.host}: {exc}", severity="warning", timeout=15)
        return
    text = away_summary(doc.get("alerts") or [])
    if text:
        app.notify(text, title=str(client.host), severity="warning", timeout=30)
