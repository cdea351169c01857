"""Every binding of the console by its id, with the keys it has now: what `rdt-tui keys`
prints and what ``[keys]`` in settings.toml remaps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual.binding import Binding
from textual.keys import format_key


@dataclass(frozen=True)
class KeyRow:
    id: str
    keys: str  # as a user types them in settings.toml, comma-separated
    description: str
    where: str


def _owners() -> list[tuple[str, Iterable[Binding | tuple[str, ...]]]]:
    # Imported here: the screens import textual and much of the console.
    from .app import RdtApp
    from .confirm import Confirm
    from .host_form import HostForm
    from .screens.adopt_screen import AdoptScreen
    from .screens.cluster_screen import ClusterScreen
    from .screens.compare_screen import CompareScreen
    from .screens.dashboard import DashboardScreen
    from .screens.hosts_screen import HostsScreen
    from .screens.launch_screen import LaunchScreen
    from .screens.queue_screen import QueueScreen
    from .screens.runs_screen import RunsScreen
    from .secret_prompt import SecretPrompt
    from .widgets.log_view import LogView

    return [
        ("everywhere", RdtApp.BINDINGS),
        ("hosts", HostsScreen.BINDINGS),
        ("host form", HostForm.BINDINGS),
        ("runs", RunsScreen.BINDINGS),
        ("launch form", LaunchScreen.BINDINGS),
        ("dashboard", DashboardScreen.BINDINGS),
        ("log", LogView.BINDINGS),
        ("cluster", ClusterScreen.BINDINGS),
        ("compare", CompareScreen.BINDINGS),
        ("adopt", AdoptScreen.BINDINGS),
        ("slurm queue", QueueScreen.BINDINGS),
        ("confirm", Confirm.BINDINGS),
        ("password prompt", SecretPrompt.BINDINGS),
    ]


def _typed(key: str) -> str:
    """``question_mark`` as a user sees it, ``?``; named keys stay names (``escape``)."""
    shown = format_key(key)
    return shown if len(shown) == 1 else key


def key_rows(keymap: dict[str, str] | None = None) -> list[KeyRow]:
    """Every binding that has an id, its keys after ``keymap`` (settings' [keys]) applied."""
    keymap = keymap or {}
    rows = []
    for where, bindings in _owners():
        for binding in bindings:
            if not isinstance(binding, Binding) or not binding.id:
                continue
            keys = keymap.get(binding.id, binding.key)
            typed = ",".join(_typed(k.strip()) for k in keys.split(","))
            rows.append(KeyRow(binding.id, typed, binding.description or binding.action, where))
    return rows
