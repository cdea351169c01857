"""The console's GPU pane of a Slurm run shows the job's nodes' GPUs, labelled by node (here
the SIMULATED backend on n1 and n2), and says why when there are none to show."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from textual.widgets import DataTable

from rdt_tui.protocol.messages import GpuSample
from rdt_tui.tui.app import make_console_app
from rdt_tui.tui.screens.hosts_screen import HostRow, HostsScreen
from rdt_tui.tui.screens.runs_screen import RunsScreen
from rdt_tui.tui.widgets.gpu_pane import GpuPane

from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture
from .test_tui_console import local_factory, user_config  # noqa: F401 - fixture
from .test_tui_dashboard import on_dashboard, until


async def two_node_sleeper(state_dir: str, workdir: str) -> str:
    """A 2-node Slurm job that sleeps, launched through an agent with 2 SIMULATED GPUs a
    node; its Slurm job id."""
    from rdt_tui.client import AgentClient
    from rdt_tui.transport.local import LocalTransport

    async with AgentClient(LocalTransport(state_dir, simulate_gpus=2)) as c:
        run = await c.launch_args(
            {
                "argv": [sys.executable, "-c", "import time; time.sleep(120)"],
                "cwd": workdir,
                "name": "two-nodes",
                "scheduler": "slurm",
                "slurm": {"nodes": 2},
            }
        )
    return str(run["slurm_job_id"])


async def open_job_dashboard(app: Any, pilot: Any, job_id: str) -> GpuPane:
    """From the hosts screen: localhost's runs, `j` (the queue), Enter on the job; the
    dashboard's GPU pane once it shows the job's two nodes."""
    from rdt_tui.tui.screens.queue_screen import QueueScreen

    await until(lambda: isinstance(app.screen, HostsScreen))
    await until(lambda: app.screen.status.get("localhost") == "reachable")
    await pilot.press("enter")
    await until(lambda: isinstance(app.screen, RunsScreen))
    await pilot.press("j")
    await until(lambda: isinstance(app.screen, QueueScreen))
    table = app.screen.query_one("#queue", DataTable)
    await until(lambda: table.row_count >= 1)
    table.focus()
    table.move_cursor(row=table.get_row_index(job_id))
    await pilot.press("enter")
    await until(lambda: on_dashboard(app))
    pane: GpuPane = app.screen.query_one(GpuPane)  # the dashboard knows it is a Slurm run
    await until(lambda: "on n1,n2" in str(pane.render()), timeout=60)
    return pane


@pytest.mark.asyncio
async def test_the_gpu_pane_of_a_two_node_job_labels_each_gpu_by_node(
    slurm: SlurmLab,  # noqa: F811
    state_dir: str,
    workdir: str,
    user_config: str,  # noqa: F811
) -> None:
    job_id = await two_node_sleeper(state_dir, workdir)
    factory = local_factory(state_dir, simulate_gpus=2)
    app = make_console_app([HostRow("localhost", "this machine", "")], factory)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            pane = await open_job_dashboard(app, pilot, job_id)
            shown = str(pane.render())
            assert "4 x SIMULATED GPU" in shown, shown
            for label in ("n1:0", "n1:1", "n2:0", "n2:1"):
                assert f"{label} " in shown, shown
            await pilot.press("q")
    finally:
        slurm.run("scancel", job_id, check=False)


def test_a_refused_sampler_is_said_on_the_pane() -> None:
    pane = GpuPane()
    sample: GpuSample = {
        "t": 1.0,
        "gpus": [],
        "host": {},
        "job": "12",
        "nodes": [],
        "reason": "GPUs of Slurm job 12 not shown: Slurm refused the sampler step inside the "
        "job (srun --overlap): srun: error: Unable to create step for job 12: Access denied",
    }
    shown = pane.render_text(sample)
    assert "No GPUs: GPUs of Slurm job 12 not shown: Slurm refused" in shown
    assert "Access denied" in shown and "CPU" not in shown
    assert "Slurm refused" in pane.summary_text(sample, 200)
