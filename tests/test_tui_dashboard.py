"""The dashboard driven by Pilot against the real local agent and a real job."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import textwrap
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.css.query import NoMatches
from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed

from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport
from rdt_tui.tui.app import make_app
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.widgets.checkpoint_table import CheckpointTable
from rdt_tui.tui.widgets.gpu_pane import GpuPane
from rdt_tui.tui.widgets.log_view import LogView
from rdt_tui.tui.widgets.loss_chart import LossChart
from rdt_tui.tui.widgets.status_bar import StatusBar

pytestmark = pytest.mark.asyncio

JOB = textwrap.dedent("""
    import os, sys, time
    for i in range(1, 100000):
        print(f"step={i} loss={'nan' if i == int(sys.argv[1]) else 1 / i:.5}", flush=True)
        if i == 20:
            os.makedirs("checkpoint-20/ema")
            open("checkpoint-20/ema/model.safetensors", "wb").write(b"x" * 1000)
        time.sleep(0.02)
""")


async def until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.05)):
        try:
            if predicate():
                return
        except NoMatches:
            pass  # a screen that is still composing its widgets
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting for the dashboard")


async def settled(app: Any, pilot: Pilot[Any], before: set[Any]) -> None:
    """Every message queued so far is handled (an answer's callback included), and every
    worker started since ``before`` has finished: what a declined question could have set
    off has run to its end."""
    await pilot.pause()
    for worker in [w for w in app.workers if w not in before]:
        with contextlib.suppress(WorkerCancelled, WorkerFailed):  # ended is what counts
            await asyncio.wait_for(worker.wait(), 60)


async def workers_done(app: Any, group: str) -> None:
    """The app's workers of ``group`` (started by now) have all ended."""
    for worker in [w for w in app.workers if w.group == group]:
        with contextlib.suppress(WorkerCancelled, WorkerFailed):
            await asyncio.wait_for(worker.wait(), 60)


def on_dashboard(app: Any) -> bool:
    """The dashboard is up with all its widgets mounted."""
    if not isinstance(app.screen, DashboardScreen):
        return False
    app.screen.query_one(LogView)
    app.screen.query_one(StatusBar)
    return True


def open_run_factory(
    state_dir: str, workdir: str, nan_at: int = 10**9
) -> tuple[Callable[[], Awaitable[tuple[AgentClient, str]]], list[str]]:
    job = os.path.join(workdir, "job.py")
    with open(job, "w") as fh:
        fh.write(JOB)
    ids: list[str] = []

    async def open_run() -> tuple[AgentClient, str]:
        client = AgentClient(LocalTransport(state_dir, simulate_gpus=2), reconnect=True)
        await client.connect()
        run = await client.launch([sys.executable, job, str(nan_at)], cwd=workdir)
        ids.append(run["id"])
        return client, run["id"]

    return open_run, ids


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_dashboard_shows_the_run_and_quitting_leaves_it_running(
    state_dir: str, workdir: str, size: tuple[int, int]
) -> None:
    open_run, ids = open_run_factory(state_dir, workdir)
    app = make_app(open_run)
    async with app.run_test(size=size) as pilot:
        await until(lambda: on_dashboard(app))
        screen = app.screen
        chart = screen.query_one(LossChart)
        await until(lambda: len(chart.series.get("loss", ())) > 20)
        await until(lambda: screen.query_one(LogView).lines_seen > 5)
        await until(lambda: screen.query_one(CheckpointTable).row_count == 1)
        await until(lambda: "SIMULATED" in str(screen.query_one(GpuPane).render()))
        assert chart.metric == "loss" and chart.drawn_points()[0][0] == (1, 1.0)
        bar = screen.query_one(StatusBar)
        assert bar.state == "running" and bar.link == "connected"
        await pilot.press("g")
        assert chart.log_scale
        await pilot.press("q")
    async with AgentClient(LocalTransport(state_dir, simulate_gpus=2)) as c:
        assert (await c.status(ids[0]))["status"] == "running"
        await c.stop(ids[0], grace=1)


async def test_stop_asks_first_and_a_nan_loss_raises_an_alert(state_dir: str, workdir: str) -> None:
    open_run, ids = open_run_factory(state_dir, workdir, nan_at=15)
    app = make_app(open_run)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: on_dashboard(app))
        screen = app.screen
        bar = screen.query_one(StatusBar)
        await until(lambda: bar.alert.startswith("NaN loss"))
        await pilot.press("s")
        await until(lambda: app.screen is not screen)  # the question
        before = set(app.workers)
        await pilot.press("n")  # declined: nothing happens
        await settled(app, pilot, before)  # (not a sleep: the status comes once a second)
        assert bar.state == "running"
        assert not screen.stop_asked  # type: ignore[attr-defined]
        await pilot.press("s")
        await pilot.press("y")
        await until(lambda: bar.state == "stopped", timeout=60)
        assert isinstance(app.screen, DashboardScreen)
    async with AgentClient(LocalTransport(state_dir, simulate_gpus=2)) as c:
        assert (await c.status(ids[0]))["status"] == "stopped"


async def test_hosts_screen_to_runs_to_dashboard_and_back(state_dir: str, workdir: str) -> None:
    from textual.widgets import DataTable

    from rdt_tui.tui.app import make_console_app
    from rdt_tui.tui.screens.hosts_screen import HostRow, HostsScreen
    from rdt_tui.tui.screens.runs_screen import RunsScreen

    job = os.path.join(workdir, "job.py")
    with open(job, "w") as fh:
        fh.write(JOB)
    async with AgentClient(LocalTransport(state_dir)) as c:
        run = (await c.launch([sys.executable, job, "0"], cwd=workdir))["id"]
    rows = [HostRow("localhost", "this machine", ""), HostRow("nowhere", "bad", "")]

    def factory(name: str) -> AgentClient:
        if name == "nowhere":
            return AgentClient(LocalTransport(state_dir, python="/no/such/python"))
        return AgentClient(LocalTransport(state_dir), reconnect=True)

    app = make_console_app(rows, factory)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, HostsScreen))
        hosts = app.screen
        assert isinstance(hosts, HostsScreen)
        await until(lambda: hosts.status.get("localhost") == "reachable")
        await until(lambda: hosts.status.get("nowhere", "checking...") != "checking...")
        assert hosts.status["nowhere"] != "reachable"
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, RunsScreen))
        await until(lambda: app.screen.query_one("#runs", DataTable).row_count == 1)
        await pilot.press("enter")
        await until(lambda: on_dashboard(app))
        dash = app.screen
        await until(lambda: len(dash.query_one(LossChart).series.get("loss", ())) > 5)
        await pilot.press("d")
        await until(lambda: isinstance(app.screen, RunsScreen))
        await pilot.press("q")
    async with AgentClient(LocalTransport(state_dir)) as c:
        assert (await c.status(run))["status"] == "running"
        await c.stop(run, grace=1)


async def test_themes_settings_and_remapped_keys(state_dir: str, workdir: str) -> None:
    from rdt_tui.config.settings import load_settings
    from rdt_tui.tui.confirm import Confirm

    path = os.path.join(workdir, "settings.toml")
    with open(path, "w") as fh:
        fh.write('theme = "rdt-light"\n[keys]\n"dashboard.stop" = "x"\n')
    open_run, ids = open_run_factory(state_dir, workdir)
    app = make_app(open_run, load_settings(path))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: on_dashboard(app))
        assert {"rdt-dark", "rdt-light", "rdt-high-contrast"} <= set(app.available_themes)
        assert app.theme == "rdt-light"
        await pilot.press("x")  # the remapped stop key asks first
        await until(lambda: isinstance(app.screen, Confirm))
        await pilot.press("n")
        await until(lambda: on_dashboard(app))
        app.theme = "rdt-high-contrast"  # as if picked from the command palette
        await pilot.pause()
        await pilot.press("q")
    assert load_settings(path).theme == "rdt-high-contrast"
    assert load_settings(path).keys == {"dashboard.stop": "x"}
    async with AgentClient(LocalTransport(state_dir)) as c:
        await c.stop(ids[0], grace=1)


async def test_launch_form_shows_batch_and_command_then_launches(
    state_dir: str, workdir: str
) -> None:
    from textual.widgets import Input, Static

    from rdt_tui.launch.plan import LaunchPlan, form_defaults
    from rdt_tui.tui.screens.launch_screen import LaunchScreen

    job = os.path.join(workdir, "job.py")
    with open(job, "w") as fh:
        fh.write(JOB)

    def build(v: dict[str, Any]) -> dict[str, Any]:
        return {
            "argv": [
                sys.executable,
                job,
                "0",
                "--batch",
                str(v["per_gpu_batch"]),
                "--accum",
                str(v["grad_accum"]),
            ],
            "cwd": workdir,
            "env": {"WANDB_MODE": "offline"},
            "name": "form",
        }

    async def open_run() -> tuple[AgentClient, Any]:
        client = AgentClient(LocalTransport(state_dir), reconnect=True)
        await client.connect()
        return client, LaunchPlan("a test job", build, dict(form_defaults(), processes=2))

    app = make_app(open_run)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(
            lambda: (
                isinstance(app.screen, LaunchScreen)
                and bool(app.screen.query_one("#summary", Static).render())
            )
        )
        screen = app.screen
        assert isinstance(screen, LaunchScreen)
        screen.query_one("#per_gpu_batch", Input).value = "16"
        screen.query_one("#grad_accum", Input).value = "4"
        await pilot.pause()
        summary = str(screen.query_one("#summary", Static).render())
        assert "= 128" in summary  # 2 processes x 16 x 4
        command = str(screen.query_one("#command", Static).render())
        assert "WANDB_MODE=offline" in command and "--batch 16 --accum 4" in command
        await pilot.press("l")
        await pilot.press("y")
        await until(lambda: on_dashboard(app))
        run_id = app.screen.run_id  # type: ignore[attr-defined]
        await pilot.press("q")
    async with AgentClient(LocalTransport(state_dir)) as c:
        status = await c.status(run_id)
        assert status["status"] == "running" and (status["argv"] or [])[-4:] == [
            "--batch",
            "16",
            "--accum",
            "4",
        ]
        await c.stop(run_id, grace=1)
