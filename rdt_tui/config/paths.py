"""Where the console keeps its files. One function each, so tests can point them elsewhere."""

from __future__ import annotations

import os

import platformdirs

APP = "rdt-tui"


def data_dir() -> str:
    """``$RDT_TUI_DATA_DIR``, else the platform's user data directory for rdt-tui."""
    return os.environ.get("RDT_TUI_DATA_DIR") or platformdirs.user_data_dir(APP)


def demo_dir() -> str:
    return os.path.join(data_dir(), "demo")


def config_dir() -> str:
    return os.environ.get("RDT_TUI_CONFIG_DIR") or platformdirs.user_config_dir(APP)
