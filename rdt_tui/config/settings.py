"""The console's settings file, ``settings.toml`` in the user config dir::

theme = "rdt-dark"          # remembered when picked from the command palette
[keys]                      # remap any binding by its id (`rdt-tui keys` lists them)
"dashboard.stop" = "x"
"app.quit" = "ctrl+q"
[notify]                    # a webhook for alerts (docs/alerts.md); pushed with
url = "https://hooks.slack.com/services/..."   # `rdt-tui alerts HOST --push`
format = "slack"            # slack, discord, ntfy or generic (guessed from the URL)
[alerts]                    # your alert rules and thresholds (docs/alerts.md)
stall_min_s = 900
[terminal]                  # alerts heard while the console is open
bell = true                 # the terminal's bell
desktop = "osc9"            # a desktop notification: "osc9", "osc777" or "off"
on = ["ended", "nonfinite"] # ended, nonfinite, log, spike, idle, disk, group, follow
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import tomllib

from ..core.alerts import DEFAULT_RULES, merge_rules
from .files import toml_string, write_text_atomic
from .paths import config_dir

TERMINAL_DEFAULT_ON = ("ended", "nonfinite")
TERMINAL_KINDS = ("ended", "nonfinite", "log", "spike", "idle", "disk", "group", "follow")
TERMINAL_DESKTOP = ("osc9", "osc777", "off")


class SettingsError(Exception):
    """A settings file that cannot be used; the message names the file."""


@dataclass
class Settings:
    theme: str = "rdt-dark"
    keys: dict[str, str] = field(default_factory=dict)
    path: str = ""
    notify: dict[str, object] = field(default_factory=dict)  # [notify]: the URL is a secret
    alerts: dict[str, object] = field(default_factory=dict)  # [alerts]: overrides of the rules
    terminal: dict[str, object] = field(default_factory=dict)  # [terminal]: bell, desktop


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
    notify, alerts = data.get("notify", {}), data.get("alerts", {})
    if not isinstance(notify, dict) or (notify and not isinstance(notify.get("url"), str)):
        raise SettingsError(f'{path}: [notify] needs a webhook, e.g. url = "https://..."')
    problems = merge_rules(DEFAULT_RULES, alerts)[1]
    if problems:
        raise SettingsError(f"{path}: {problems[0]}")
    terminal = data.get("terminal", {})
    problem = check_terminal(terminal)
    if problem:
        raise SettingsError(f"{path}: {problem}")
    return Settings(
        theme=theme,
        keys={str(k): v for k, v in keys.items()},
        path=path,
        notify=dict(notify),
        alerts=dict(alerts),
        terminal=dict(terminal),
    )


def check_terminal(table: object) -> str:
    """What is wrong with a ``[terminal]`` table ("" when nothing)."""
    if not isinstance(table, dict):
        return "[terminal] must be a table"
    if not isinstance(table.get("bell", True), bool):
        return "[terminal] bell must be true or false"
    if table.get("desktop", "osc9") not in TERMINAL_DESKTOP:
        return f"[terminal] desktop must be one of {', '.join(TERMINAL_DESKTOP)}"
    on = table.get("on", [])
    if not isinstance(on, list) or any(k not in TERMINAL_KINDS for k in on):
        return f"[terminal] on lists alert kinds: {', '.join(TERMINAL_KINDS)}"
    return ""


def save_theme(settings: Settings, theme: str) -> None:
    """Remember the theme, rewriting the file atomically and keeping the key map."""
    settings.theme = theme
    lines = [f"theme = {toml_string(theme)}", ""]
    if settings.keys:
        lines.append("[keys]")
        lines += [f"{toml_string(k)} = {toml_string(v)}" for k, v in sorted(settings.keys.items())]
    for table, values in (
        ("notify", settings.notify),
        ("alerts", settings.alerts),
        ("terminal", settings.terminal),
    ):
        if values:  # kept as they were: the webhook URL above all
            lines += ["", f"[{table}]"]
            lines += [f"{toml_string(k)} = {_toml_value(v)}" for k, v in sorted(values.items())]
    write_text_atomic(settings.path or settings_path(), "\n".join(lines) + "\n")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return toml_string(str(value))
