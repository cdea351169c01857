"""The runs screen's adopt action (``a``, and in the palette): the training processes the
real agent sees, one with a log file adopted with Enter and opened on the dashboard, one
writing to a terminal adopted only once its log file is typed."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest
from textual.widgets import DataTable, Input, Static

from rdt_tui.tui.app import make_console_app
from rdt_tui.tui.screens.adopt_screen import AdoptScreen
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.screens.hosts_screen import HostRow, HostsScreen
from rdt_tui.tui.screens.runs_screen import RunsScreen
from rdt_tui.tui.widgets.loss_chart import LossChart

from .adopt_jobs import job_env, kill_tree, shell, tree, wait_for
from .test_tui_console import local_factory, user_config  # noqa: F401 (a fixture)
from .test_tui_dashboard import on_dashboard, until

pytestmark = pytest.mark.asyncio

# A launcher by its program's name (as `torchrun train.py` reads in /proc), and its rank.
LAUNCHER = r"""
import os, sys, time
parent = os.getpid()
if os.fork() == 0:
    while os.getppid() == parent:
        time.sleep(0.05)
    os._exit(0)
for i in range(1, 100000):
    print(f"step={i} loss={1.0 / i:.5f}", flush=True)
    time.sleep(0.05)
"""


def select(screen: AdoptScreen, pid: int) -> bool:
    table = screen.query_one("#candidates", DataTable)
    if str(pid) not in screen.found:
        return False
    table.move_cursor(row=table.get_row_index(str(pid)))
    return True


async def test_adopt_from_the_runs_screen(state_dir: str, workdir: str, user_config: str) -> None:  # noqa: F811
    launcher = os.path.join(workdir, "torchrun")
    with open(launcher, "w") as fh:
        fh.write(LAUNCHER)
    (pid,) = shell(workdir, [sys.executable, launcher, "train.py"], log="train.log")
    master, slave = pty.openpty()
    on_tty = subprocess.Popen(
        [sys.executable, launcher, "other.py"],
        stdout=slave,
        cwd=workdir,
        env=job_env(),
        start_new_session=True,
    )
    try:
        wait_for(lambda: len(tree(pid)) == 2 and len(tree(on_tty.pid)) == 2, 60, "the ranks")
        app = make_console_app([HostRow("localhost", "this machine", "")], local_factory(state_dir))
        async with app.run_test(size=(160, 45)) as pilot:
            await until(lambda: isinstance(app.screen, HostsScreen))
            await until(lambda: app.screen.status.get("localhost") == "reachable")  # type: ignore[attr-defined]
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, RunsScreen))
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert "Adopt a run" in titles  # in the palette, by its description
            await pilot.press("a")
            await until(lambda: isinstance(app.screen, AdoptScreen))
            screen = app.screen
            assert isinstance(screen, AdoptScreen)
            await until(lambda: select(screen, on_tty.pid))
            assert screen.found[str(on_tty.pid)]["stdout"] == "tty"
            await pilot.press("enter")
            error = screen.query_one("#adopt-error", Static)
            await until(lambda: "type the path of the log file" in str(error.render()))
            assert isinstance(app.screen, AdoptScreen)
            assert screen.found[str(pid)]["cwd"] == workdir
            assert screen.found[str(pid)]["log"] == os.path.join(workdir, "train.log")
            await until(lambda: select(screen, pid))
            screen.query_one("#candidates", DataTable).focus()
            await pilot.press("enter")
            await until(lambda: on_dashboard(app))
            dash = app.screen
            assert isinstance(dash, DashboardScreen)
            first = dash.run_id
            chart = dash.query_one(LossChart)
            await until(lambda: len(chart.series.get("loss", ())) > 50)
            assert chart.series["loss"].steps[0] == 1  # its log, from the first line
            await pilot.press("escape")
            # The tty one, with its log typed.
            with open(os.path.join(workdir, "other.log"), "w") as fh:
                fh.write("step=1 loss=0.5\n")
            if not isinstance(app.screen, RunsScreen):
                app.pop_screen()
            await until(lambda: isinstance(app.screen, RunsScreen))
            await pilot.press("a")
            await until(lambda: isinstance(app.screen, AdoptScreen))
            again = app.screen
            assert isinstance(again, AdoptScreen)
            await until(lambda: select(again, on_tty.pid))
            assert str(pid) in again.found and again.found[str(pid)]["run"]  # adopted
            again.query_one("#log", Input).value = "other.log"
            again.query_one("#log", Input).focus()
            await pilot.press("enter")
            await until(lambda: on_dashboard(app))
            # The first one ends (its launcher and rank killed by hand): the runs screen says
            # so, without an exit code it cannot know.
            kill_tree(tree(pid))
            app.pop_screen()
            await until(lambda: isinstance(app.screen, RunsScreen))
            runs = app.screen.query_one("#runs", DataTable)

            status = ""
            for _ in range(120):  # the agent sees the end within a poll or two (load: more)
                await pilot.press("r")
                await pilot.pause(0.5)
                if first in runs.rows:
                    status = str(runs.get_row(first)[2])
                if status == "ended (exit code unknown)":
                    break
            assert status == "ended (exit code unknown)"
            await pilot.press("q")
    finally:
        on_tty.kill()
        on_tty.wait()
        os.close(master)
        os.close(slave)
        kill_tree(tree(pid))
