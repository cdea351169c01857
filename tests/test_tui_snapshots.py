"""Snapshots of each console screen at 120x40 and 80x24, fed by a scripted fake client.

Recorded with the versions in constraints.txt; after a deliberate change of the screens,
re-record with `pytest tests/test_tui_snapshots.py --snapshot-update` and review the SVGs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from textual.css.query import NoMatches
from textual.pilot import Pilot
from textual.widgets import DataTable

from rdt_tui.launch.plan import LaunchPlan, form_defaults
from rdt_tui.tui.app import make_app, make_console_app
from rdt_tui.tui.host_form import HostForm
from rdt_tui.tui.screens.cluster_screen import ClusterScreen
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.screens.hosts_screen import HostActions, HostRow, HostsScreen
from rdt_tui.tui.screens.launch_screen import LaunchScreen
from rdt_tui.tui.screens.runs_screen import RunsScreen
from rdt_tui.tui.widgets.checkpoint_table import CheckpointTable
from rdt_tui.tui.widgets.gpu_pane import GpuPane
from rdt_tui.tui.widgets.log_view import LogView
from rdt_tui.tui.widgets.loss_chart import LossChart
from rdt_tui.tui.widgets.status_bar import StatusBar

from .fakes import FakeClient

SIZES = [(120, 40), (80, 24), (100, 30), (200, 60)]


async def settle(pilot: Pilot[Any], done: Any) -> None:
    for _ in range(300):
        try:
            if done():
                break
        except NoMatches:
            pass  # the screen is still composing
        await asyncio.sleep(0.02)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_dashboard(snap_compare: Any, size: tuple[int, int]) -> None:
    async def open_run() -> tuple[Any, str]:
        return FakeClient(), "rdt-finetune-1"

    app = make_app(open_run)

    async def ready(pilot: Pilot[Any]) -> None:
        await settle(
            pilot,
            lambda: (
                isinstance(app.screen, DashboardScreen)
                and len(app.screen.query_one(LossChart).series.get("loss", ())) == 300
                and app.screen.query_one(CheckpointTable).row_count == 1
                and "free" in str(app.screen.query_one(CheckpointTable).border_subtitle)
                and app.screen.query_one(GpuPane).last is not None
                and not app.screen.query_one(GpuPane)._pending
                and len(app.screen.query_one(LogView).lines) == 11
            ),
        )
        app.screen.query_one(LogView).scroll_end(animate=False)
        bar = app.screen.query_one(StatusBar)
        bar.clock = lambda: bar.data_at or 0.0  # "data 0s ago", however long the test took
        bar.refresh_text()
        await pilot.pause()
        app.screen.query_one(LossChart).redraw()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=ready)


def _console() -> Any:
    rows = [
        HostRow("localhost", "this machine (no SSH)", ""),
        HostRow("gpu-a", "alice@gpu-node.internal:22", "jump"),
    ]

    async def trust(name: str, ask: Any) -> list[tuple[str, str, str]]:
        return []

    actions = HostActions(
        rows=lambda: rows,
        values=lambda name: {"name": name, "hostname": "gpu-node.internal", "jump": ["jump"]},
        save=lambda fields, replaces: None,
        trust=trust,
    )
    return make_console_app(rows, lambda name: FakeClient(name), actions=actions)


def hosts_checked(app: Any) -> bool:
    return isinstance(app.screen, HostsScreen) and set(app.screen.status.values()) == {"reachable"}


@pytest.mark.parametrize("size", SIZES)
def test_hosts_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    app = _console()

    async def ready(pilot: Pilot[Any]) -> None:
        await settle(pilot, lambda: hosts_checked(app))

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_runs_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    app = _console()

    async def ready(pilot: Pilot[Any]) -> None:
        await settle(pilot, lambda: hosts_checked(app))
        await pilot.press("enter")
        await settle(
            pilot,
            lambda: (
                isinstance(app.screen, RunsScreen)
                and app.screen.query_one("#runs", DataTable).row_count == 2
            ),
        )

    assert snap_compare(app, terminal_size=size, run_before=ready)


FORM_2X32 = dict(form_defaults(), processes=2, per_gpu_batch=32, max_steps=600)


@pytest.mark.parametrize("size", SIZES)
def test_launch_form(snap_compare: Any, size: tuple[int, int]) -> None:
    def build(v: dict[str, Any]) -> dict[str, Any]:
        return {
            "argv": [
                *("accelerate", "launch", "--num_processes", str(v["processes"]), "main.py"),
                *("--train_batch_size", str(v["per_gpu_batch"])),
                *("--max_train_steps", str(v["max_steps"])),
            ],
            "env": {"WANDB_MODE": "offline"},
        }

    async def open_run() -> tuple[Any, Any]:
        return FakeClient(), LaunchPlan("profile rdt-finetune", build, FORM_2X32)

    app = make_app(open_run)

    async def ready(pilot: Pilot[Any]) -> None:
        await settle(pilot, lambda: isinstance(app.screen, LaunchScreen))

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_cluster_view(snap_compare: Any, size: tuple[int, int]) -> None:
    app = _console()

    async def ready(pilot: Pilot[Any]) -> None:
        await settle(pilot, lambda: hosts_checked(app))
        await pilot.press("c")
        await settle(
            pilot,
            lambda: (
                isinstance(app.screen, ClusterScreen)
                and app.screen.query_one(DataTable).row_count == 4
            ),
        )

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_host_form(snap_compare: Any, size: tuple[int, int]) -> None:
    app = _console()

    async def ready(pilot: Pilot[Any]) -> None:
        await settle(pilot, lambda: hosts_checked(app))
        await pilot.press("down", "e")
        await settle(pilot, lambda: isinstance(app.screen, HostForm))

    assert snap_compare(app, terminal_size=size, run_before=ready)
