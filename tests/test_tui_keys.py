"""Finding actions: every action of every screen in the palette with its key, `?` and Esc
toggling the keys panel, a footer that fits at 80 and 120 columns, `rdt-tui keys`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from typing import Any

import pytest
from textual.binding import Binding
from textual.command import CommandList
from textual.widgets import HelpPanel, Input
from textual.widgets._footer import FooterKey

from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.screens.hosts_screen import HostsScreen
from rdt_tui.tui.screens.runs_screen import RunsScreen

from .fakes import metric_batch
from .test_tui_snapshots import _console, hosts_checked
from .test_tui_status import QuietClient, app_on, until


def screen_actions(screen: Any) -> set[str]:
    return {
        b.description
        for b in type(screen).BINDINGS
        if isinstance(b, Binding) and b.description and b.id
    }


def on(app: Any, screen: type) -> bool:
    return isinstance(app.screen, screen)


def palette_titles(app: Any) -> dict[str, str]:
    return {c.title: c.help for c in app.get_system_commands(app.screen)}


@pytest.mark.asyncio
async def test_the_palette_has_every_action_of_each_screen_with_its_key() -> None:
    app = _console()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: hosts_checked(app))
        titles = palette_titles(app)
        assert screen_actions(app.screen) <= set(titles), titles
        assert titles["Add host"] == "key: a"
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, RunsScreen))
        titles = palette_titles(app)
        assert screen_actions(app.screen) <= set(titles), titles
        await pilot.press("enter")  # the highlighted run: its dashboard
        await until(lambda: isinstance(app.screen, DashboardScreen))
        titles = palette_titles(app)
        # the footer leaves the chart's tweaks out; the palette has them all
        assert screen_actions(app.screen) - {"Clear filter"} <= set(titles), titles
        assert titles["Stop"] == "key: s" and titles["GPU window"] == "key: t"
        # Typed into the real palette, "stop" finds the screen's action.
        await pilot.press("ctrl+p")
        await pilot.pause()
        for ch in "stop":
            await pilot.press(ch)
        found = ""
        for _ in range(600):  # the palette searches in a worker: up to 30 s on a loaded machine
            await pilot.pause(0.05)
            listed = app.screen.query_one(CommandList)
            found = " ".join(
                str(listed.get_option_at_index(i).prompt) for i in range(listed.option_count)
            )
            if "Stop" in found:
                break
        assert "Stop" in found, found


@pytest.mark.asyncio
async def test_question_mark_and_escape_toggle_the_keys_panel() -> None:
    app = app_on(QuietClient())
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("question_mark")
        await until(lambda: bool(app.screen.query(HelpPanel)))
        await pilot.press("question_mark")
        await until(lambda: not app.screen.query(HelpPanel))
        await pilot.press("question_mark")
        await until(lambda: bool(app.screen.query(HelpPanel)))
        await pilot.press("escape")
        await until(lambda: not app.screen.query(HelpPanel))
        # Without the panel, Esc is the screen's again: it closes the log's search box.
        await pilot.press("slash")
        await pilot.press("x")
        box = app.screen.query_one("#log-search", Input)
        assert box.value == "x" and box.has_class("-shown")
        await pilot.press("escape")
        await until(lambda: not box.has_class("-shown"))


@pytest.mark.asyncio
@pytest.mark.parametrize("width", [80, 120])
async def test_the_footer_fits(width: int) -> None:
    for app, on_screen in [
        (app_on(QuietClient()), DashboardScreen),
        (_console(), HostsScreen),
        (_console(), RunsScreen),
    ]:
        async with app.run_test(size=(width, 24 if width == 80 else 40)) as pilot:
            if on_screen is RunsScreen:
                await until(partial(hosts_checked, app))
                await pilot.press("enter")
            await until(partial(on, app, on_screen))
            await pilot.pause()
            palette = app.screen.query_one("FooterKey.-command-palette", FooterKey)
            keys = [k for k in app.screen.query(FooterKey) if k is not palette]
            shown = {k.key for k in keys}
            assert "q" in shown and "question_mark" in shown
            for key in keys:  # each whole, left of the palette's key (which covers the end)
                region = key.region
                assert region.width > 0 and region.right <= palette.region.x, (key.key, region)


def test_rdt_tui_keys_lists_binding_ids_and_remapped_keys(tmp_path: Any) -> None:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "settings.toml").write_text('[keys]\n"dashboard.stop" = "x"\n')
    env = dict(os.environ, RDT_TUI_CONFIG_DIR=str(cfg))
    run = [sys.executable, "-m", "rdt_tui.cli", "keys"]
    out = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "dashboard.detach" in out.stdout and "app.quit" in out.stdout
    listed = subprocess.run([*run, "--json"], capture_output=True, text=True, env=env, timeout=60)
    rows = {r["id"]: r for r in json.loads(listed.stdout)}
    assert rows["dashboard.stop"]["keys"] == "x"  # the remap in settings.toml
    assert rows["app.help"]["keys"] == "?"
    assert str(cfg / "settings.toml") in out.stdout


@pytest.mark.asyncio
async def test_mouse_switches_the_metric_and_clicks_footer_keys() -> None:
    from rdt_tui.tui.widgets.loss_chart import LossChart

    app = app_on(QuietClient())
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, DashboardScreen))
        chart = app.screen.query_one(LossChart)
        await until(lambda: chart.metric == "loss")
        chart.add(
            metric_batch([{"seq": 1, "name": "lr", "value": 0.1, "step": 1, "t": 1.0}])["series"]
        )
        await pilot.click(LossChart)
        assert chart.metric == "lr"
        # The footer's keys are buttons: a click on `?` opens the keys panel.
        help_key = next(k for k in app.screen.query(FooterKey) if k.key == "question_mark")
        await pilot.click(help_key)
        await until(lambda: bool(app.screen.query(HelpPanel)))
