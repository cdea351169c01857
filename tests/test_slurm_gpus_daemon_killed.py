"""A daemon killed outright (SIGKILL, the OOM killer) cannot end its sampler steps: they are
srun processes of their own session. They must not run on beside the job for its whole life
(and a second one start with the next daemon): with the reader of their output gone, each ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture

HOLDER = """
import asyncio, sys
from rdt_tui.agent.slurm_gpus import JobGpusTable

async def main():
    table = JobGpusTable([sys.executable, "-m", "rdt_tui.agent"], 1, 1.0, lambda: None)
    summary = {"slurm_job_id": sys.argv[1], "status": "running"}
    while True:
        samples = table.feed(summary, lambda: {"nodes": 2})
        if samples and samples[-1][1].get("nodes") == ["n1", "n2"]:
            print("up", flush=True)
        await asyncio.sleep(0.2)

asyncio.run(main())
"""


def steps(slurm: SlurmLab, job_id: str) -> list[str]:  # noqa: F811
    return slurm.run("squeue", "-h", "-s", "-j", job_id, "-o", "%j").split()


def test_a_killed_daemons_sampler_step_ends(slurm: SlurmLab) -> None:  # noqa: F811
    out = slurm.run("sbatch", "--parsable", "--nodes=2", "-o", "/dev/null", "--wrap", "sleep 120")
    job_id = out.strip().split(";")[0]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, job_id], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        deadline = time.monotonic() + 60
        while holder.stdout.readline().strip() != "up":
            assert time.monotonic() < deadline, "no sample of both nodes"
        assert f"rdt-gpus-{job_id}" in steps(slurm, job_id)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        holder.stdout.close()
        deadline = time.monotonic() + 30
        while f"rdt-gpus-{job_id}" in steps(slurm, job_id):
            assert time.monotonic() < deadline, "the sampler step outlived its daemon"
            time.sleep(0.5)
    finally:
        if holder.poll() is None:
            holder.kill()
        slurm.run("scancel", job_id, check=False)
