"""`c` on a Slurm run's dashboard shows the GPUs of the job's nodes, one row per GPU labelled
``host:node`` with its index on that node, not the login node's own GPUs. The lab has no GPU:
the SIMULATED backend stands in on the login node and, through the sampler step, on n1 and n2.
The real console, the real agent, the real Slurm."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from rdt_tui.tui.app import make_console_app
from rdt_tui.tui.screens.cluster_screen import ClusterScreen
from rdt_tui.tui.screens.hosts_screen import HostRow

from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture
from .test_slurm_gpu_console import open_job_dashboard, two_node_sleeper
from .test_tui_console import local_factory, user_config  # noqa: F401 - fixture
from .test_tui_dashboard import on_dashboard, until


@pytest.mark.asyncio
async def test_the_cluster_view_of_a_slurm_run_shows_the_jobs_nodes_gpus(
    slurm: SlurmLab,  # noqa: F811
    state_dir: str,
    workdir: str,
    user_config: str,  # noqa: F811
) -> None:
    job_id = await two_node_sleeper(state_dir, workdir)
    factory = local_factory(state_dir, simulate_gpus=2)
    app = make_console_app([HostRow("localhost", "this machine", "")], factory)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await open_job_dashboard(app, pilot, job_id)
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
        slurm.run("scancel", job_id, check=False)
