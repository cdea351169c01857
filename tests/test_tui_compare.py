"""Runs side by side in the console, driven by Pilot against two real agents playing two hosts:
a run marked on each host's runs screen, the comparison opened, its legend, the step/time
axis and the metric switch checked against what the agents hold."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from textual.color import Color
from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, Static

from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport
from rdt_tui.tui.app import make_console_app
from rdt_tui.tui.screens.compare_screen import CompareScreen
from rdt_tui.tui.screens.hosts_screen import HostRow, HostsScreen
from rdt_tui.tui.screens.runs_screen import RunsScreen
from rdt_tui.tui.widgets.compare_chart import CompareChart

from .conftest import _kill_runs_of, _stop_daemon, wait_status
from .test_cli_compare import write_job
from .test_tui_dashboard import until

pytestmark = pytest.mark.asyncio


@pytest.fixture
def state_dir_b() -> Iterator[str]:
    """A second agent's state: the second "host"."""
    path = tempfile.mkdtemp(prefix="rdt-b-", dir="/tmp")
    yield path
    _stop_daemon(path)
    _kill_runs_of(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def no_profiles(workdir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = os.path.join(workdir, "cfg")
    os.makedirs(cfg)
    monkeypatch.setenv("RDT_TUI_CONFIG_DIR", cfg)
    monkeypatch.chdir(workdir)


def transport(state: str, name: str) -> LocalTransport:
    t = LocalTransport(state)
    t.host = name  # two local agents play two hosts: each says which one it is
    return t


async def launch(state: str, name: str, workdir: str, *flags: str) -> dict[str, Any]:
    """A finished run of the small job on the agent of ``state``; its record and points."""
    async with AgentClient(transport(state, name)) as c:
        run = await c.launch([sys.executable, write_job(workdir), *flags], cwd=workdir, name=name)
        assert (await wait_status(c, run["id"], {"exited"}))["exit_code"] == 0
        status: dict[str, Any] = dict(await c.status(run["id"]))
        status["points"] = await c.all_metrics(run["id"])
        return status


def loss_by_time(run: dict[str, Any]) -> list[tuple[float, float]]:
    return [(p["t"] - run["started_at"], p["value"]) for p in run["points"] if p["name"] == "loss"]


async def test_runs_of_two_hosts_are_marked_and_compared(
    state_dir: str, state_dir_b: str, workdir: str, no_profiles: None
) -> None:
    common = ("--train_batch_size", "8", "--sleep", "0.05")
    a = await launch(
        state_dir, "node-a", workdir, "--learning_rate", "0.1", "--steps", "4", "--extra", *common
    )
    b = await launch(
        state_dir_b, "node-b", workdir, "--learning_rate", "0.2", "--steps", "6", *common
    )
    states = {"node-a": state_dir, "node-b": state_dir_b}
    rows = [HostRow(name, "a local agent", "") for name in states]
    app = make_console_app(rows, lambda name: AgentClient(transport(states[name], name)))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, HostsScreen))
        hosts = app.screen
        assert isinstance(hosts, HostsScreen)
        await until(lambda: set(hosts.status.values()) == {"reachable"} and len(hosts.status) == 2)
        for host, run in (("node-a", a), ("node-b", b)):
            await until(lambda: app.screen is hosts)
            hosts.query_one(DataTable).move_cursor(row=list(states).index(host))
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, RunsScreen))
            screen = app.screen
            assert isinstance(screen, RunsScreen) and screen.client.host == host
            table = screen.query_one("#runs", DataTable)
            await until(lambda: table.row_count == 1)  # noqa: B023
            title = screen.query_one("#runs-title", Static)
            marked_before = "(1 marked on all hosts)" if host == "node-b" else "marked"
            assert (marked_before in str(title.render())) == (host == "node-b")
            await pilot.press("space")
            assert table.get_cell(run["id"], "mark") == "●"
            count = 1 if host == "node-a" else 2
            assert f"({count} marked on all hosts)" in str(title.render())
            if host == "node-a":
                await pilot.press("v")  # one mark is not a comparison: a warning, no screen
                await pilot.pause()
                assert app.screen is screen
                await pilot.press("escape")
        # Opened from the command palette, where the screen's keys are listed by description.
        await pilot.press("ctrl+p")
        await until(lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"compare marked")
        hits = app.screen.query_one(CommandList)
        await until(  # found by its description, the best match
            lambda: (
                hits.option_count > 0
                and "Compare marked" in str(hits.get_option_at_index(0).prompt)
            )
        )
        await pilot.press("down", "enter")
        await until(lambda: isinstance(app.screen, CompareScreen) and app.screen.loaded)
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        chart = compare.query_one(CompareChart)
        legend = str(compare.query_one("#legend", Static).render())
        lines = legend.splitlines()
        assert len(lines) == 2
        assert f"node-a:{a['id']}" in lines[0] and "learning_rate=0.1" in lines[0]
        assert f"node-b:{b['id']}" in lines[1] and "learning_rate=0.2" in lines[1]
        assert "steps=4" in lines[0] and "steps=6" in lines[1]
        assert "extra=true" in lines[0] and "extra=-" in lines[1]
        assert "train_batch_size" not in legend and "sleep" not in legend  # the same in both
        # By step: each run's own loss, one colour each, from the theme.
        assert chart.title.startswith("loss (1/2 shared)") and chart.xlabel == "step"
        assert (chart.curves[0].xs, chart.curves[0].ys) == ([1, 2, 3, 4], [1.0, 0.5, 0.3333, 0.25])
        assert chart.curves[1].xs == [1, 2, 3, 4, 5, 6] and chart.curves[1].ys[0] == 2.0
        primary = app.theme_variables["primary"]
        assert chart.curves[0].color != chart.curves[1].color
        assert chart.curves[0].color == Color.parse(primary).rgb
        # By time since each run's start.
        await pilot.press("t")
        assert chart.xlabel == "seconds since start"
        for curve, run in zip(chart.curves, (a, b), strict=True):
            expected = loss_by_time(run)
            assert [round(x, 6) for x in curve.xs] == [round(x, 6) for x, _ in expected]
            assert curve.ys == [v for _, v in expected]
        # The metric switch goes among the shared metrics only (grad_norm is node-a's alone).
        await pilot.press("m")
        assert compare.metric == "lr" and chart.title.startswith("lr (2/2 shared)")
        assert set(chart.curves[0].ys) == {0.1} and set(chart.curves[1].ys) == {0.2}
        await pilot.press("m")
        assert compare.metric == "loss"
        await pilot.press("t")
        assert chart.xlabel == "step" and chart.curves[0].xs == [1, 2, 3, 4]
        # A log scale draws the same values: plotext takes the log of what it is given in
        # place, so the curves must survive any number of renders.
        await pilot.press("g")
        for _ in range(3):
            chart.refresh()
            await pilot.pause()
        assert chart.title.endswith("log") and chart.curves[0].ys == [1.0, 0.5, 0.3333, 0.25]
        assert chart.drawn(chart.curves[1])[1] == [2.0, 1.0, 0.6667, 0.5, 0.4, 0.3333]
        # Back to the runs screen: the marks are still there.
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, RunsScreen))
        assert app.screen.query_one("#runs", DataTable).get_cell(b["id"], "mark") == "●"


async def test_a_host_that_fails_is_named_in_its_legend_line_and_the_others_draw() -> None:
    """The fetch is the app's seam: here one host answers and one refuses."""
    runs = [
        {"id": "ok-1", "host": "gpu-a", "argv": ["t", "--lr", "1"], "started_at": 0.0},
        {"id": "gone-1", "host": "gpu-b", "argv": ["t", "--lr", "2"], "started_at": 0.0},
    ]

    async def fetch(run: dict[str, Any], since: int) -> dict[str, Any]:
        if run["host"] == "gpu-b":
            raise ConnectionError("the connection to gpu-b is lost")
        points = [
            {"seq": i, "name": "loss", "value": 1.0 / i, "step": i, "t": 3600.0 * i}
            for i in range(1, 4)
        ]
        return {"points": points if since == 0 else [], "last_seq": 3}

    app = make_console_app([], lambda name: None)  # type: ignore[arg-type, return-value]
    async with app.run_test(size=(120, 40)) as pilot:
        screen = CompareScreen(runs, fetch, poll_s=0)
        await app.push_screen(screen)
        await until(lambda: screen.loaded)
        await pilot.pause()
        lines = str(screen.query_one("#legend", Static).render()).splitlines()
        assert "ok-1" in lines[0] and "!" not in lines[0]
        assert (
            "gone-1" in lines[1] and "ConnectionError: the connection to gpu-b is lost" in lines[1]
        )
        # Only one run has points: its metric is the one shown.
        chart = screen.query_one(CompareChart)
        assert chart.title.startswith("loss") and chart.curves[0].xs == [1, 2, 3]
        assert chart.curves[1].xs == []
        # Hours of run: the time axis counts hours.
        await pilot.press("t")
        assert chart.xlabel == "hours since start" and chart.curves[0].xs == [1.0, 2.0, 3.0]
