"""The console's settings file, ``settings.toml`` in the user config dir::

theme = "rdt-dark"          # remembered when picked from the command palette
[keys]                      # remap any binding by its id (see `?` in the console)
"dashboard.stop" = "x"
"app.quit" = "ctrl+q"
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

import tomllib

from .paths import config_dir


class SettingsError(Exception):
    """A settings file that cannot be used; the message names the file."""


@dataclass
class Settings:
    theme: str = "rdt-dark"
    keys: dict[str, str] = field(default_factory=dict)
    path: str = ""


def settings_path() -> str:
    return os.path.join(config_dir(), "settings.toml")


def load_settings(path: str | None = None) -> Settings:
    path = path or settings_path()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return Settings(path=path)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None
    keys = data.get("keys", {})
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise SettingsError(f'{path}: [keys] maps binding ids to keys, e.g. "dashboard.stop" = "x"')
    theme = data.get("theme", "rdt-dark")
    if not isinstance(theme, str):
        raise SettingsError(f"{path}: `theme` must be a theme name")
    return Settings(theme=theme, keys={str(k): v for k, v in keys.items()}, path=path)


def save_theme(settings: Settings, theme: str) -> None:
    """Remember the theme, rewriting the file atomically and keeping the key map."""
    settings.theme = theme
    lines = [f"theme = {_quote(theme)}", ""]
    if settings.keys:
        lines.append("[keys]")
        lines += [f"{_quote(k)} = {_quote(v)}" for k, v in sorted(settings.keys.items())]
    path = settings.path or settings_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=os.path.dirname(path))
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
