"""The console's answer to a password, one-time code or passphrase: a modal with hidden input.

:class:`ConsolePrompter` is the transport's prompter for the console (it has the transport's
``ask(prompt, echo)`` shape; nothing here imports the transport). The question is pushed as a
modal and awaited on a future, so the connect that asked waits while every other worker (other
hosts' checks, live dashboards) keeps going. Enter answers, Esc cancels; the typed text is
taken out of the Input before the modal closes and is kept nowhere.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class SecretPrompt(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="secret.cancel")]

    def __init__(self, question: str, echo: bool) -> None:
        super().__init__()
        self.question = question
        self.echo = echo

    def compose(self) -> ComposeResult:
        with Vertical():
            # The server's words, shown as text: a prompt is not console markup.
            yield Static(self.question, id="question", markup=False)
            yield Input(password=not self.echo, id="answer")
            yield Static("Enter answers   Esc cancels", id="keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def answer(self, event: Input.Submitted) -> None:
        event.stop()
        field = self.query_one(Input)
        value = field.value
        field.value = ""
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.query_one(Input).value = ""
        self.dismiss(None)


class ConsolePrompter:
    """Asks in a :class:`SecretPrompt` on the app it is bound to (:meth:`bind`, at mount).
    Returns None (a cancel) when no console is up to ask on."""

    def __init__(self) -> None:
        self.app: App[Any] | None = None

    def bind(self, app: App[Any]) -> None:
        self.app = app

    async def ask(self, prompt: str, echo: bool) -> str | None:
        app = self.app
        if app is None or not app.is_running:
            return None
        answered: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

        def done(value: str | None) -> None:
            if not answered.done():
                answered.set_result(value)

        screen = SecretPrompt(prompt, echo)
        app.push_screen(screen, callback=done)
        try:
            return await answered
        finally:
            if not answered.done() and screen.is_current:
                screen.dismiss(None)  # the connect gave up: the question goes away with it
