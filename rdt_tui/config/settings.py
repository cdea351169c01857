"""The console's settings file, ``settings.toml`` in the user config dir::

theme = "rdt-dark"          # remembered when picked from the command palette
[keys]                      # remap any binding by its id (see `?` in the console)
"dashboard.stop" = "x"
"app.quit" = "ctrl+q"
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import tomllib

from .files import toml_string, write_text_atomic
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
    lines = [f"theme = {toml_string(theme)}", ""]
    if settings.keys:
        lines.append("[keys]")
        lines += [f"{toml_string(k)} = {toml_string(v)}" for k, v in sorted(settings.keys.items())]
    write_text_atomic(settings.path or settings_path(), "\n".join(lines) + "\n")
