"""Alerts heard while the console is open: the terminal's bell and a desktop notification by
the terminal's own escape sequences (OSC 9, or OSC 777 ``notify``), which travel through SSH
and, wrapped for passthrough, through tmux (``set -g allow-passthrough on``).

Settings (``[terminal]`` in settings.toml)::

    bell = true                  # ring the bell
    desktop = "osc9"             # "osc9", "osc777" or "off"
    on = ["ended", "nonfinite"]  # which alerts: ended, nonfinite, log, spike, idle, disk, group
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config.settings import TERMINAL_DEFAULT_ON as DEFAULT_ON

MAX_TEXT = 200


def clean(text: str) -> str:
    """The text without control characters (an escape or a BEL would end the sequence
    early and let a log line drive the terminal)."""
    return "".join(ch if ch.isprintable() else " " for ch in text)[:MAX_TEXT]


def sequence(title: str, body: str, desktop: str, in_tmux: bool) -> str:
    """The escape sequence of one desktop notification ("" when ``desktop`` is off)."""
    title, body = clean(title), clean(body)
    if desktop == "osc9":
        seq = f"\x1b]9;{title}: {body}\x07"
    elif desktop == "osc777":
        seq = f"\x1b]777;notify;{title.replace(';', ',')};{body}\x07"
    else:
        return ""
    if in_tmux:  # tmux hands a DCS-wrapped sequence (its escapes doubled) to the terminal
        seq = "\x1bPtmux;" + seq.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return seq


@dataclass
class TerminalAlerts:
    """Which alerts ring and how; ``write`` puts text on the terminal (the app's driver)."""

    bell: bool = True
    desktop: str = "osc9"
    on: tuple[str, ...] = DEFAULT_ON
    write: Callable[[str], None] = field(default=lambda text: None)
    in_tmux: bool = field(default_factory=lambda: bool(os.environ.get("TMUX")))

    @classmethod
    def from_settings(cls, table: dict[str, object]) -> TerminalAlerts:
        on = table.get("on", list(DEFAULT_ON))
        return cls(
            bell=bool(table.get("bell", True)),
            desktop=str(table.get("desktop", "osc9")),
            on=tuple(str(k) for k in on) if isinstance(on, list) else DEFAULT_ON,
        )

    def hear(self, kind: str, title: str, message: str) -> bool:
        """Ring for an alert of ``kind`` (``log:Traceback`` counts as ``log``) when it is one
        the settings name; True when something was written."""
        if kind.split(":", 1)[0] not in self.on:
            return False
        out = ("\a" if self.bell else "") + sequence(title, message, self.desktop, self.in_tmux)
        if out:
            self.write(out)
        return bool(out)
