"""The agent's idle-GPU alert on a Slurm run judges the job's GPUs, never the login node's.

The lab has no GPU: the daemon's SIMULATED backend stands in on the login node and, through the
sampler step (``srun --overlap``), on n1 and n2. Their utilisation (60-99 %) is under the
run's ``idle_below = 100``, so whichever GPUs the rule reads look idle: only the message (the
job's nodes named) and the silence while no sampler step runs tell them apart."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from .conftest import Agent
from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture
from .test_slurm_runs import slurm_launch, wait_for


@pytest.mark.asyncio
async def test_the_idle_alert_of_a_slurm_run_judges_the_jobs_gpus_only(
    slurm: SlurmLab,  # noqa: F811
    agent: Agent,
    workdir: str,
) -> None:
    c = await agent.client(simulate_gpus=2)
    argv = [sys.executable, "-c", "import time; time.sleep(120)"]
    spec = dict(
        slurm_launch(argv, workdir, nodes=2), alerts={"idle_below": 100.0, "idle_after_s": 2.0}
    )
    run = await c.launch_args(spec)
    await wait_for(c, run["id"], {"running"})

    async def idle_alerts() -> list[str]:
        alerts = (await c.alerts())["alerts"]
        return [a["message"] for a in alerts if a["run"] == run["id"] and a["kind"] == "idle"]

    # No console watches and the job asked for no GPUs: no sampler step, so nothing to judge.
    # (The login node's simulated GPUs, idle by this rule, were judged before.)
    await asyncio.sleep(8)
    assert await idle_alerts() == []
    steps = slurm.run("squeue", "-h", "-s", "-j", str(run["slurm_job_id"]), "-o", "%j")
    assert f"rdt-gpus-{run['slurm_job_id']}" not in steps.split()

    # A console watches: the sampler step runs, and the rule judges the job's two nodes.
    sub = await c.subscribe(run["id"], gpu=True)
    try:
        deadline = time.monotonic() + 60
        while not await idle_alerts():
            assert time.monotonic() < deadline, "no idle alert from the job's GPUs"
            await asyncio.sleep(0.5)
    finally:
        await sub.close()
    [message] = await idle_alerts()
    assert message.startswith("all GPUs on n1,n2 idle for 2 s"), message
    assert (await c.stop(run["id"], grace=1))["status"] == "stopped"
