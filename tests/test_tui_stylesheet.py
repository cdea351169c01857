"""Screens are styled by the app's stylesheet (app.tcss), widgets by their own DEFAULT_CSS,
and colours come only from theme variables."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from textual.screen import Screen

import rdt_tui.tui as tui
from rdt_tui.tui.app import RdtApp

TCSS = Path(tui.__file__).parent / str(RdtApp.CSS_PATH)


def _screens() -> list[type[Screen[object]]]:
    found = {}
    for info in pkgutil.walk_packages(tui.__path__, "rdt_tui.tui."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Screen)
                and value.__module__.startswith("rdt_tui.")
            ):
                found[value.__qualname__] = value
    return list(found.values())


def test_every_screen_is_styled_by_the_stylesheet_not_default_css() -> None:
    sheet = TCSS.read_text()
    screens = _screens()
    assert len(screens) >= 10
    inline = [s.__name__ for s in screens if "DEFAULT_CSS" in vars(s)]
    assert not inline, f"screens with DEFAULT_CSS (move it into {TCSS.name}): {inline}"
    for screen in screens:
        if screen.__name__ in ("LiveStatus", "RunAlerts"):  # the dashboard's mixins
            continue
        assert re.search(rf"^{screen.__name__}\b", sheet, re.M), screen.__name__


def test_the_stylesheet_has_no_hex_colour() -> None:
    assert not re.findall(r"#[0-9a-fA-F]{3,8}\b(?![-\w])", TCSS.read_text())
