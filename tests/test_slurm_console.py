"""The console on a Slurm profile, against a real Slurm: the launch form shows the batch
script before `l`/`y`, the dashboard of a pending run says why it waits, then it runs."""

from __future__ import annotations

import os
import sys

import pytest
from textual.widgets import DataTable, Static

from rdt_tui.tui.app import make_console_app
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.screens.hosts_screen import HostRow, HostsScreen
from rdt_tui.tui.screens.launch_screen import LaunchScreen
from rdt_tui.tui.screens.runs_screen import RunsScreen
from rdt_tui.tui.widgets.gpu_pane import GpuPane
from rdt_tui.tui.widgets.loss_chart import LossChart
from rdt_tui.tui.widgets.status_bar import StatusBar

from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture
from .test_tui_console import local_factory, user_config  # noqa: F401 - fixture
from .test_tui_dashboard import on_dashboard, until

pytestmark = pytest.mark.asyncio

JOB = """
import sys, time
for step in range(1, 31):
    print(f"step={step} loss={1.0 / step:.4f}", flush=True)
    time.sleep(0.02)
"""


async def test_form_shows_the_batch_script_and_a_pending_dashboard_says_why(
    slurm: SlurmLab,  # noqa: F811
    state_dir: str,
    workdir: str,
    user_config: str,  # noqa: F811
) -> None:
    runs_dir = os.path.join(workdir, "configs", "runs")
    os.makedirs(runs_dir)
    with open(os.path.join(workdir, "job.py"), "w") as fh:
        fh.write(JOB)
    with open(os.path.join(runs_dir, "queued.toml"), "w") as fh:
        fh.write(
            f'scheduler = "slurm"\ncommand = ["{sys.executable}", "job.py"]\ncwd = "{workdir}"\n'
            '[slurm]\npartition = "held"\ntime = "00:05:00"\nextra = ["#SBATCH --comment=x"]\n'
        )
    slurm.run("scontrol", "update", "PartitionName=held", "State=DOWN")
    app = make_console_app([HostRow("localhost", "this machine", "")], local_factory(state_dir))
    try:
        async with app.run_test(size=(120, 48)) as pilot:
            await until(lambda: isinstance(app.screen, HostsScreen))
            await until(lambda: app.screen.status.get("localhost") == "reachable")  # type: ignore[attr-defined]
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, RunsScreen))
            profiles = app.screen.query_one("#profiles", DataTable)
            await until(lambda: profiles.row_count >= 1)
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, LaunchScreen))
            shown = str(app.screen.query_one("#command", Static).render())
            for line in ("#SBATCH --partition=held", "#SBATCH --time=00:05:00", "--comment=x"):
                assert line in shown, shown
            assert "job.py" in shown and "exec '<agent>' shim '<run dir>'" in shown
            await pilot.press("l", "y")
            await until(lambda: on_dashboard(app), timeout=30)
            dash = app.screen
            assert isinstance(dash, DashboardScreen)
            bar = dash.query_one(StatusBar)
            await until(lambda: "is waiting: PartitionDown" in bar.state, timeout=30)
            pane = dash.query_one(GpuPane)
            await until(lambda: "GPUs of Slurm job" in str(pane.render()), timeout=30)
            slurm.run("scontrol", "update", "PartitionName=held", "State=UP")
            await until(lambda: bar.state == "exited", timeout=60)
            await until(lambda: len(dash.query_one(LossChart).series.get("loss", ())) == 30)
            await pilot.press("q")
    finally:
        slurm.run("scontrol", "update", "PartitionName=held", "State=UP")


async def test_queue_screen_lists_the_job_names_our_run_and_enter_opens_it(
    slurm: SlurmLab,  # noqa: F811
    state_dir: str,
    workdir: str,
    user_config: str,  # noqa: F811
) -> None:
    from rdt_tui.client import AgentClient
    from rdt_tui.transport.local import LocalTransport
    from rdt_tui.tui.screens.queue_screen import QueueScreen

    slurm.run("scontrol", "update", "PartitionName=held", "State=DOWN")
    try:
        async with AgentClient(LocalTransport(state_dir)) as c:
            run = await c.launch_args(
                {
                    "argv": [sys.executable, "-c", "print('step=1 loss=1.0')"],
                    "cwd": workdir,
                    "name": "queued",
                    "scheduler": "slurm",
                    "slurm": {"partition": "held"},
                }
            )
        app = make_console_app([HostRow("localhost", "this machine", "")], local_factory(state_dir))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(lambda: isinstance(app.screen, HostsScreen))
            await until(lambda: app.screen.status.get("localhost") == "reachable")  # type: ignore[attr-defined]
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, RunsScreen))
            await pilot.press("j")
            await until(lambda: isinstance(app.screen, QueueScreen))
            table = app.screen.query_one("#queue", DataTable)
            await until(lambda: table.row_count >= 1)
            row = [str(x) for x in table.get_row(str(run["slurm_job_id"]))]
            assert row[2] == "PENDING" and row[3] == "PartitionDown" and row[6] == run["id"]
            table.focus()
            table.move_cursor(row=table.get_row_index(str(run["slurm_job_id"])))
            await pilot.press("enter")
            await until(lambda: on_dashboard(app))
            assert app.screen.run_id == run["id"]  # type: ignore[attr-defined]
            await pilot.press("q")
    finally:
        slurm.run("scontrol", "update", "PartitionName=held", "State=UP")
