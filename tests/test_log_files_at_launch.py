"""The past of a run's ``log_files`` is what the globs match before its job starts, not what
the watcher's first look finds once the job runs: a job that writes its log at once (or on a
busy node, before the daemon looks) still has only its own points, through the real agent.

Before, the first look came after the job had a pid: a log the job appended to at once was
read from 0 (the previous run's points too), and a new log with a lagging time was taken for
the past (no points at all; the flake of the log_files tests under load)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import pytest

from .conftest import Agent, wait_status

pytestmark = pytest.mark.asyncio


def dp_line(loss: float, step: int) -> str:
    return json.dumps({"train_loss": loss, "global_step": step})


async def points_of(agent: Agent, workdir: str, shell: str, log_files: list[str]) -> list[Any]:
    c = await agent.client()
    # sh, not Python: the job writes within a millisecond of its start.
    run = await c.launch(["/bin/sh", "-c", shell], cwd=workdir, log_files=log_files)
    await wait_status(c, run["id"], {"exited"})
    points = await asyncio.wait_for(c.all_metrics(run["id"]), 60)
    return [(p["name"], p["value"], p["step"]) for p in points]


async def test_a_log_appended_to_at_once_is_read_from_where_it_was(
    agent: Agent, workdir: str
) -> None:
    os.makedirs(os.path.join(workdir, "out"))
    log = os.path.join(workdir, "out", "run.log")
    with open(log, "w") as fh:  # the previous runs' (logging.FileHandler appends)
        fh.write(dp_line(9.0, 100) + "\n" + dp_line(8.0, 101) + "\n")
    past = time.time() - 600
    os.utime(log, (past, past))
    shell = f"echo '{dp_line(0.5, 0)}' >> out/run.log; sleep 1"
    assert await points_of(agent, workdir, shell, ["out/*.log"]) == [("train_loss", 0.5, 0)]


async def test_a_new_log_written_at_once_with_a_lagging_time_is_followed(
    agent: Agent, workdir: str
) -> None:
    shell = (
        f"mkdir -p out/b && echo '{dp_line(0.5, 0)}' > out/b/logs.json.txt"
        " && touch -d '10 minutes ago' out/b/logs.json.txt; sleep 1"  # a lagging file server
    )
    got = await points_of(agent, workdir, shell, ["out/*/logs.json.txt"])
    assert got == [("train_loss", 0.5, 0)]
