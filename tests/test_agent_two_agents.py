"""Two agents of one user (two state directories, or a home shared by several nodes): runs
launched under the same name in the same second are different runs, and stopping one never
reaches the other's processes (the run id is the processes' marker and the cgroup's name)."""

from __future__ import annotations

import shutil
import sys
import tempfile

import pytest

from .conftest import Agent, _kill_runs_of, _stop_daemon, wait_status

pytestmark = pytest.mark.asyncio

JOB = "import time\nprint('step=1 loss=1', flush=True)\ntime.sleep(120)"


async def test_stopping_one_agents_run_spares_the_same_named_run_of_another(
    agent: Agent, workdir: str
) -> None:
    other_dir = tempfile.mkdtemp(prefix="rdt-", dir="/tmp")
    other = Agent(other_dir)
    try:
        a, b = await agent.client(), await other.client()
        ra = await a.launch([sys.executable, "-c", JOB], cwd=workdir, name="train")
        rb = await b.launch([sys.executable, "-c", JOB], cwd=workdir, name="train")
        assert ra["id"] != rb["id"]
        await wait_status(a, ra["id"], {"running"})
        await wait_status(b, rb["id"], {"running"})
        stopped = await a.stop(ra["id"], grace=1)
        assert stopped["status"] == "stopped"
        assert (await b.status(rb["id"]))["status"] == "running"
        await b.stop(rb["id"], grace=1)
    finally:
        await other.close_all()
        _stop_daemon(other_dir)
        _kill_runs_of(other_dir)
        shutil.rmtree(other_dir, ignore_errors=True)
