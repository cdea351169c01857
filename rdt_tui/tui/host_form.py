"""Add or edit a host: the fields of a ``[[hosts]]`` entry. ctrl+s saves, Esc cancels.

The screen only collects text; the caller saves it (``config.hostsave.save_host``), and a value
the file would refuse is shown here with the form kept open, so nothing typed is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

FIELDS = (
    ("name", "Name (what you type as HOST)", "gpu-a"),
    ("hostname", "Address", "gpu-node.internal"),
    ("user", "User", "your login name"),
    ("port", "Port", "22"),
    ("jump", "Jump hosts (comma-separated)", "alice@jump.example.org"),
    ("python", "Python on the node", "python3"),
    ("state_dir", "Agent state dir", "~/.local/state/rdt-tui"),
    ("identity_file", "Identity file", "~/.ssh/id_ed25519"),
)


class HostForm(ModalScreen[dict[str, Any] | None]):
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="hostform.save"),
        Binding("escape", "cancel", "Cancel", id="hostform.cancel"),
    ]

    def __init__(
        self,
        title: str,
        values: dict[str, Any],
        save: Callable[[dict[str, Any]], str | None],
    ) -> None:
        super().__init__()
        self.title_text = title
        self.values = values
        self.save = save  # returns an error to show, or None when saved

    def compose(self) -> ComposeResult:
        with Vertical():
            # The title names the host: the user's text, not markup.
            yield Static(f"[b]{escape(self.title_text)}[/b]: ctrl+s saves, Esc cancels")
            with Grid():
                for key, label, example in FIELDS:
                    value = self.values.get(key)
                    if isinstance(value, list):
                        value = ", ".join(value)
                    yield Label(label)
                    yield Input(
                        "" if value in (None, 22) and key != "name" else str(value or ""),
                        placeholder=example,
                        id=f"host-{key}",
                        compact=True,
                    )
            yield Static(id="error", markup=False)

    def fields(self) -> dict[str, Any]:
        return {key: self.query_one(f"#host-{key}", Input).value.strip() for key, _, _ in FIELDS}

    def action_save(self) -> None:
        fields = self.fields()
        error = self.save(fields)
        if error:
            self.query_one("#error", Static).update(error)
            return
        self.dismiss(fields)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_save()

    def action_cancel(self) -> None:
        self.dismiss(None)
