"""Themes as data: ``themes/*.toml`` (shipped) and ``themes/*.toml`` in the user config dir."""

from __future__ import annotations

import glob
import os
from typing import Any

import tomllib

from .paths import config_dir

COLOURS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "success",
    "warning",
    "error",
    "boost",
)


class ThemeError(Exception):
    pass


def theme_dirs() -> list[str]:
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return [os.path.join(here, "themes"), os.path.join(config_dir(), "themes")]


def load_theme_file(path: str) -> dict[str, Any]:
    """A theme's fields (Textual ``Theme`` keyword arguments); ThemeError names the file."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ThemeError(f"{path}: {exc}") from None
    if not isinstance(data.get("name"), str) or not isinstance(data.get("primary"), str):
        raise ThemeError(f"{path}: a theme needs `name` and `primary`")
    unknown = set(data) - {"name", "dark", "variables", *COLOURS}
    if unknown:
        raise ThemeError(f"{path}: unknown key {sorted(unknown)[0]!r}")
    return data


def load_themes() -> list[dict[str, Any]]:
    themes = []
    for directory in theme_dirs():
        for path in sorted(glob.glob(os.path.join(directory, "*.toml"))):
            themes.append(load_theme_file(path))
    return themes
