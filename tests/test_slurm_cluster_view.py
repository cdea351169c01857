"""`c` on a Slurm run's dashboard shows the GPUs of the job's nodes, one row per GPU labelled
``host:node`` with its index on that node, not the login node's own GPUs. The lab has no GPU:
the SIMULATED backend stands in on the login node and, through the sampler step, on n1 and n2.
The real console, the real agent, the real Slurm."""

from __future__ import annotations

import sys

import pytest
from textual.widgets import DataTable

from rdt_tui.tui.app import make_console_app
from rdt_tui.tui.screens.cluster_screen import ClusterScreen
from rdt_tui.tui.screens.hosts_screen import HostRow, HostsScreen
from rdt_tui.tui.screens.runs_screen import RunsScreen
from rdt_tui.tui.widgets.gpu_pane import GpuPane

from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the session fixture
from .test_tui_console import local_factory, user_config  # noqa: F401 - fixture
from .test_tui_dashboard import on_dashboard, until


@pytest.mark.asyncio
async def test_the_cluster_view_of_a_slurm_run_shows_the_jobs_nodes_gpus(
    slurm: SlurmLab,  # noqa: F811
    state_dir: str,
    workdir: str,
    user_config: str,  # noqa: F811
) -> None:
    from rdt_tui.client import AgentClient
    from rdt_tui.transport.local import LocalTransport
    from rdt_tui.tui.screens.queue_screen import QueueScreen

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
    factory = local_factory(state_dir, simulate_gpus=2)
    app = make_console_app([HostRow("localhost", "this machine", "")], factory)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await until(lambda: isinstance(app.screen, HostsScreen))
            await until(lambda: app.screen.status.get("localhost") == "reachable")  # type: ignore[attr-defined]
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, RunsScreen))
            await pilot.press("j")
            await until(lambda: isinstance(app.screen, QueueScreen))
            table = app.screen.query_one("#queue", DataTable)
            await until(lambda: table.row_count >= 1)
            table.focus()
            table.move_cursor(row=table.get_row_index(str(run["slurm_job_id"])))
            await pilot.press("enter")
            await until(lambda: on_dashboard(app))
            pane = app.screen.query_one(GpuPane)  # the dashboard knows it is a Slurm run
            await until(lambda: "on n1,n2" in str(pane.render()), timeout=60)
            await pilot.press("c")
            await until(lambda: isinstance(app.screen, ClusterScreen))
            gpus = app.screen.query_one(DataTable)

            def rows() -> list[tuple[str, str]]:
                cells = [gpus.get_row_at(i) for i in range(gpus.row_count)]
                return [(str(c[0]), str(c[1])) for c in cells]

            want = [("localhost:n1", "0"), ("localhost:n1", "1")]
            want += [("localhost:n2", "0"), ("localhost:n2", "1")]
            try:
                await until(lambda: rows() == want, timeout=60)
            except AssertionError:
                raise AssertionError(f"the cluster view shows {rows()}, not {want}") from None
            assert all("SIMULATED" in str(gpus.get_row_at(i)[2]) for i in range(4))
            await pilot.press("escape")
            await until(lambda: on_dashboard(app))
            await pilot.press("q")
    finally:
        slurm.run("scancel", str(run["slurm_job_id"]), check=False)
