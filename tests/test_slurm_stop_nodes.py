"""A stop of a two-node job under a real Slurm (tests/slurm_lab.py): the SIGINT reaches the task
on EVERY node (the srun step's tasks, which `scancel --signal --full` alone does not reach on
Slurm 22.05), before the cancel."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from .conftest import Agent
from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the session fixture
from .test_slurm_runs import PY, script, slurm_launch, wait_for

pytestmark = pytest.mark.asyncio


async def test_stop_of_a_two_node_job_interrupts_the_task_on_each_node(
    slurm: SlurmLab,  # noqa: F811
    agent: Agent,
    workdir: str,
) -> None:
    job = script(
        workdir,
        "stubborn_node.py",
        f"""
        import os, signal, time
        node = os.environ.get("SLURM_NODEID", "x")
        def on_int(signum, frame):
            open(os.path.join({workdir!r}, "got-sigint-" + node), "w").write("INT")
        signal.signal(signal.SIGINT, on_int)  # saves its state and carries on: needs a cancel
        open(os.path.join({workdir!r}, "ready-" + node), "w").write(str(os.getpid()))
        while True:
            time.sleep(0.1)
        """,
    )
    c = await agent.client()
    run = await c.launch_args(slurm_launch([PY, "-u", job], workdir, nodes=2))
    await wait_for(c, run["id"], {"running"})
    ready = [os.path.join(workdir, f"ready-{n}") for n in (0, 1)]
    deadline = time.monotonic() + 30
    while not all(os.path.exists(p) and os.path.getsize(p) for p in ready):
        assert time.monotonic() < deadline, os.listdir(workdir)
        await asyncio.sleep(0.1)
    final = await c.stop(run["id"], grace=3)
    assert final["status"] == "stopped", final
    got = sorted(n for n in os.listdir(workdir) if n.startswith("got-sigint-"))
    assert got == ["got-sigint-0", "got-sigint-1"]  # each node's task, before the cancel
    assert slurm.run("squeue", "-h", "-j", run["slurm_job_id"], check=False).strip() == ""
