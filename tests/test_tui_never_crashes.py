"""The console never crashes and never lies: repaints in log scale, failed workers, user stops."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import pytest

from rdt_tui.client import AgentClient
from rdt_tui.client.group import GroupReport, watch_group
from rdt_tui.transport.local import LocalTransport
from rdt_tui.tui.app import make_app
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.widgets.loss_chart import LossChart
from rdt_tui.tui.widgets.status_bar import StatusBar

from .conftest import wait_status
from .test_tui_console import drop_nodes, ring_console, to_profiles, user_config  # noqa: F401
from .test_tui_dashboard import on_dashboard, open_run_factory, until, workers_done

pytestmark = pytest.mark.asyncio


@contextlib.asynccontextmanager
async def training_dashboard(state_dir: str, workdir: str) -> AsyncIterator[tuple[Any, Any, list]]:
    """The console on a run's dashboard once its chart holds a few losses: (app, pilot, ids)."""
    open_run, ids = open_run_factory(state_dir, workdir)
    app = make_app(open_run)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: on_dashboard(app))
        chart = app.screen.query_one(LossChart)
        await until(lambda: len(chart.series.get("loss", ())) > 5)
        yield app, pilot, ids


def notifications(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_log_scale_survives_every_repaint_without_new_data(
    state_dir: str, workdir: str
) -> None:
    open_run, ids = open_run_factory(state_dir, workdir)
    app = make_app(open_run)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: on_dashboard(app))
        chart = app.screen.query_one(LossChart)
        await until(lambda: len(chart.series.get("loss", ())) > 20)
        await pilot.press("g")
        await pilot.pause()
        assert chart.log_scale and "log" in chart.title_text()
        for size in ((100, 30), (130, 45), (90, 28)):  # each resize repaints the same figure
            await pilot.resize_terminal(*size)
            await pilot.pause()
        await pilot.press("question_mark")  # the keys panel: another repaint
        await pilot.pause()
        assert "loss" in app.export_screenshot()
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, DashboardScreen)
        await pilot.press("q")
    async with AgentClient(LocalTransport(state_dir, simulate_gpus=2)) as c:
        await c.stop(ids[0], grace=1)


async def test_a_failed_stop_is_a_notification_not_the_end_of_the_console(
    state_dir: str, workdir: str
) -> None:
    open_run, ids = open_run_factory(state_dir, workdir)
    app = make_app(open_run)
    run_dir = os.path.join(state_dir, "runs", ids[0]) if ids else ""
    aside = os.path.join(state_dir, "aside")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(lambda: on_dashboard(app))
            run_dir = os.path.join(state_dir, "runs", ids[0])
            os.rename(run_dir, aside)  # the run vanished under us: the agent refuses the stop
            await pilot.press("s")
            await pilot.press("y")
            await until(lambda: any("Stopping the run failed" in n for n in notifications(app)))
            said = next(n for n in notifications(app) if "Stopping the run failed" in n)
            assert f"no run {ids[0]!r}" in said and "rdt-tui runs" in said  # message and hint
            await pilot.pause()
            assert app.is_running and isinstance(app.screen, DashboardScreen)
            await pilot.press("q")
    finally:
        if os.path.isdir(aside):
            os.rename(aside, run_dir)


async def test_the_users_own_stop_is_said_as_such_not_a_traceback_alert(
    state_dir: str, workdir: str
) -> None:
    async with training_dashboard(state_dir, workdir) as (app, pilot, ids):
        bar = app.screen.query_one(StatusBar)
        await pilot.press("s")
        await pilot.press("y")
        await until(lambda: bar.state == "stopped", timeout=60)
        # The run's last event (its complete status) is handled: every log line came before.
        await until(lambda: app.screen.final is not None)
        # The job printed the KeyboardInterrupt traceback the stop caused: not news.
        assert "Traceback" not in bar.alert, bar.alert
        assert not any("Traceback in the log" in n for n in notifications(app))
        await until(lambda: any("stopped as asked" in n for n in notifications(app)))
    async with AgentClient(LocalTransport(state_dir)) as c:
        with open(os.path.join(state_dir, "runs", ids[0], "output.log")) as fh:
            assert "Traceback" in fh.read()  # the job did print one
        assert (await c.status(ids[0]))["status"] == "stopped"


async def test_a_stop_asked_from_another_console_is_said_as_such_too(
    state_dir: str, workdir: str
) -> None:
    async with training_dashboard(state_dir, workdir) as (app, _pilot, ids):
        bar = app.screen.query_one(StatusBar)
        async with AgentClient(LocalTransport(state_dir, simulate_gpus=2)) as other:  # elsewhere
            await other.stop(ids[0], grace=5)
        # The run's last event (its complete status) is handled: every log line came before.
        await until(lambda: app.screen.final is not None, timeout=60)
        assert "Traceback" not in bar.alert, bar.alert
        assert any("stopped as asked" in n for n in notifications(app))


RANK = textwrap.dedent("""
    import time
    for i in range(1, 100000):
        print(f"step={i} loss={1 / i:.5}", flush=True)
        time.sleep(0.05)
""")


async def test_a_user_stop_of_one_node_is_not_a_death_in_the_group_report(workdir: str) -> None:
    job = os.path.join(workdir, "rank.py")
    with open(job, "w") as fh:
        fh.write(RANK)
    dirs = {h: tempfile.mkdtemp(prefix=f"rdt-{h}-", dir="/tmp") for h in ("a", "b")}
    clients = {h: AgentClient(LocalTransport(d)) for h, d in dirs.items()}
    try:
        for c in clients.values():
            await c.connect()
        runs = {
            # distinct names: the marker is the run id, and both agents live on this machine
            h: str((await c.launch([sys.executable, job], cwd=workdir, name=f"rank-{h}"))["id"])
            for h, c in clients.items()
        }
        report = GroupReport("g", runs)
        watcher = asyncio.ensure_future(watch_group(clients, report, grace=2))
        await asyncio.sleep(1.0)
        await clients["a"].stop(runs["a"], grace=5)  # the user's stop, on one node
        await asyncio.wait_for(watcher, 60)
        await wait_status(clients["b"], runs["b"], {"stopped"})
        assert report.first_dead is None, report.summary()
        assert report.stopped_by_user == ["a"] and report.stopped == ["b"]
        assert "died" not in report.summary()
        assert "stopped as asked on a; stopped with it: b" in report.summary()
    finally:
        for c in clients.values():
            await c.close()
        drop_nodes(dirs)


async def test_every_worker_of_the_console_is_guarded() -> None:
    """A worker added later without the guard would take the console down on its first error."""
    import re
    from pathlib import Path

    import rdt_tui.tui

    root = Path(rdt_tui.tui.__file__).parent
    unguarded = []
    for path in root.rglob("*.py"):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if re.match(r"\s*@work\b", line) and not re.match(r"\s*@guarded\(", lines[i + 1]):
                unguarded.append(f"{path.name}:{i + 1}")
    assert not unguarded, f"workers without @guarded: {unguarded}"


async def test_stop_on_a_multi_node_dashboard_stops_every_rank_and_says_so(
    workdir: str,
    user_config: str,  # noqa: F811
) -> None:
    from rdt_tui.tui.screens.launch_screen import LaunchScreen

    app, dirs = ring_console(workdir)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await to_profiles(app, pilot, "node-a")
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, LaunchScreen))
            await pilot.press("l", "y")
            await until(lambda: on_dashboard(app))
            dash = app.screen
            assert isinstance(dash, DashboardScreen) and dash.group is not None
            chart = dash.query_one(LossChart)
            await until(lambda: len(chart.series.get("rank1_loss", ())) > 3)
            await pilot.press("s")
            await pilot.press("y")
            report = dash.group.report
            await until(lambda: len(report.final) == 2, timeout=60)
            await workers_done(app, "group")  # the group's watcher has said its last
            bar = dash.query_one(StatusBar)
            assert "died" not in bar.alert, bar.alert
            assert not any("died first" in n for n in notifications(app))
            assert report.first_dead is None, report.summary()
            await until(lambda: any("stopped as asked" in n for n in notifications(app)))
            assert {f["status"] for f in report.final.values()} == {"stopped"}
    finally:
        drop_nodes(dirs)
