"""How the console words an error from the agent, the transport or a file: its message, and
the hint on a line of its own when there is one (AgentCallError, TransportError, ...)."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widget import Widget


def error_text(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    hint = getattr(exc, "hint", "")
    return f"{message}\n{hint}" if hint else str(message)


def error_title(exc: BaseException, default: str | None = None) -> str:
    return str(getattr(exc, "title", default or type(exc).__name__))


def notify_error(widget: Widget | App[Any], exc: BaseException, timeout: float = 30) -> None:
    widget.notify(error_text(exc), severity="error", timeout=timeout)
