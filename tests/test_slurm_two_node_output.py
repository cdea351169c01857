"""Two nodes of one Slurm job write progress bars into one output file: every repaint arrives
whole (real Slurm 22.05, two slurmd on loopback; see slurm_lab.py)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time

import pytest

from .conftest import Agent
from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture
from .test_slurm_runs import script, slurm_launch, wait_for

pytestmark = pytest.mark.asyncio

RECORDS = 400

# Like tqdm into a file: "\r" before each repaint, no newline until the end, both nodes at
# once. Each record is longer than a tenth of slurmstepd's buffer, so cuts would be many.
BARS = f"""
    import os, sys, time
    node = os.environ.get("SLURM_NODEID", "?")
    for i in range(1, {RECORDS} + 1):
        sys.stderr.write(f"\\rnode{{node}} step={{i}} loss=0.5 |" + "#" * 180 + "|")
        sys.stderr.flush()
        if i % 50 == 0:
            time.sleep(0.01)
    sys.stderr.write("\\n")
"""


async def test_two_nodes_progress_bars_reach_the_one_log_whole(
    slurm: SlurmLab,  # noqa: F811
    agent: Agent,
    workdir: str,
) -> None:
    job = script(workdir, "bars.py", BARS)
    c = await agent.client()
    run = await c.launch_args(slurm_launch([sys.executable, job], workdir, nodes=2))
    final = await wait_for(c, run["id"], {"exited"}, timeout=120)
    assert final["exit_code"] == 0, final
    run_dir = os.path.join(agent.state_dir, "runs", run["id"])
    deadline = time.monotonic() + 30
    while True:  # srun writes the run's log; the job's end is recorded a moment before
        with open(os.path.join(run_dir, "output.log"), "rb") as fh:
            text = fh.read().decode()
        whole = re.findall(r"^node([01]) step=(\d+) loss=0\.5 \|#{180}\|$", text, re.M)
        if len(whole) >= 2 * RECORDS or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    records = [x for x in re.split(r"[\r\n]", text) if "step=" in x]
    cut = [x for x in records if not re.fullmatch(r"node[01] step=\d+ loss=0\.5 \|#{180}\|", x)]
    assert not cut, f"{len(cut)} of {len(records)} records cut, e.g. {cut[:3]}"
    for node in "01":
        steps = sorted(int(s) for n, s in whole if n == node)
        assert steps == list(range(1, RECORDS + 1)), (node, len(steps))
    points = await asyncio.wait_for(c.all_metrics(run["id"]), 60)
    losses = sorted({p["step"] or 0 for p in points if p["name"] == "loss"})
    assert losses == list(range(1, RECORDS + 1))
