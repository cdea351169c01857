"""`scontrol requeue` of a running job under a real Slurm: the run follows the next attempt
(restart count), and with requeue = true and resume_args it resumes from the newest checkpoint."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import time
from typing import Any

import pytest

from .conftest import Agent
from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture

pytestmark = pytest.mark.asyncio

TRAIN = """
import os, sys, time
start = 0
if "--resume" in sys.argv:
    path = sys.argv[sys.argv.index("--resume") + 1]
    start = int(path.rsplit("-", 1)[1])
    print("resumed from", path, flush=True)
for step in range(start + 1, 41):
    print(f"step={step} loss={1.0 / step:.6f}", flush=True)
    if step % 5 == 0:
        os.makedirs(f"checkpoint-{step}", exist_ok=True)
    if step == 12 and not start:
        time.sleep(600)  # the first attempt waits here for the requeue
    time.sleep(0.02)
"""


async def status_until(c: Any, run: str, test: Any, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        s = await c.status(run)
        if test(s):
            return dict(s)
        assert time.monotonic() < deadline, {
            k: s.get(k)
            for k in ("status", "slurm_state", "slurm_reason", "restarts", "error", "exit_code")
        }
        await asyncio.sleep(0.3)


async def test_requeued_job_is_followed_into_its_next_attempt_and_resumes(
    slurm: SlurmLab,  # noqa: F811
    agent: Agent,
    workdir: str,
) -> None:
    with open(os.path.join(workdir, "train.py"), "w") as fh:
        fh.write(textwrap.dedent(TRAIN))
    c = await agent.client()
    run = await c.launch_args(
        {
            "argv": [sys.executable, "-u", "train.py"],
            "cwd": workdir,
            "scheduler": "slurm",
            "slurm": {"requeue": True},
            "slurm_resume": {"args": ["--resume", "{resume}"], "index": None},
            "checkpoint_dir": workdir,
            "checkpoint_globs": ["checkpoint-*"],
        }
    )
    job = str(run["slurm_job_id"])
    await status_until(c, run["id"], lambda s: s["status"] == "running")
    deadline = time.monotonic() + 60
    while not os.path.isdir(os.path.join(workdir, "checkpoint-10")):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    slurm.run("scontrol", "requeue", job)
    again = await status_until(c, run["id"], lambda s: s.get("restarts") == 1)
    assert again["status"] in ("pending", "requeued", "running"), again
    if again["status"] != "running":
        # Slurm holds a requeued job back for a while (reason BeginTime, with its start time)
        held = await status_until(c, run["id"], lambda s: s.get("slurm_reason") == "BeginTime")
        # REQUEUED while the first attempt winds down, then PENDING: both wait, with a start
        assert held["status"] in ("pending", "requeued"), held
        assert held["expected_start"] or held["status"] == "requeued", held
        slurm.run("scontrol", "update", f"JobId={job}", "StartTime=now")
    final = await status_until(
        c, run["id"], lambda s: s["status"] not in ("pending", "requeued", "running"), 120
    )
    assert final["status"] == "exited" and final["exit_code"] == 0, final
    assert final["restarts"] == 1
    log = "\n".join((await c.tail(run["id"], 200))["lines"])
    newest = os.path.join(workdir, "checkpoint-10")
    assert f"[rdt-tui] attempt 2: resuming from {newest}" in log, log
    assert f"resumed from {newest}" in log
    points = await asyncio.wait_for(c.all_metrics(run["id"]), 60)
    assert sorted({p["step"] or 0 for p in points if p["name"] == "loss"}) == list(range(1, 41))
