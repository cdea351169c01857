"""A Slurm stop cut in its grace by a daemon restart is carried on by the next daemon: the job
that ignored its SIGINT is cancelled once the grace is over, not left running."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time

import pytest

from .conftest import Agent
from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture
from .test_slurm_runs import read, script, slurm_launch, wait_for

pytestmark = pytest.mark.asyncio


async def test_a_stop_mid_grace_is_resumed_after_a_daemon_restart(
    slurm: SlurmLab,  # noqa: F811
    agent: Agent,
    workdir: str,
) -> None:
    marker = os.path.join(workdir, "got-sigint")
    pidfile = os.path.join(workdir, "pid")
    job = script(
        workdir,
        "stubborn.py",
        f"""
        import os, signal, time
        def on_int(signum, frame):
            open({marker!r}, "w").write("INT")
        signal.signal(signal.SIGINT, on_int)  # carries on after its SIGINT: needs the cancel
        open({pidfile!r}, "w").write(str(os.getpid()))
        while True:
            time.sleep(0.1)
        """,
    )
    c = await agent.client()
    run = await c.launch_args(slurm_launch([sys.executable, "-u", job], workdir))
    await wait_for(c, run["id"], {"running"})
    deadline = time.monotonic() + 30
    while not os.path.exists(pidfile) or not os.path.getsize(pidfile):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    pid = int(read(pidfile))
    stopping = asyncio.ensure_future(c.stop(run["id"], grace=6))
    deadline = time.monotonic() + 30
    while not os.path.exists(marker):  # the SIGINT is there: the grace has begun
        assert time.monotonic() < deadline, "the job never had its SIGINT"
        await asyncio.sleep(0.1)
    os.kill(agent.daemon_pid(), signal.SIGKILL)  # the daemon dies in the middle of the grace
    with contextlib.suppress(Exception):
        await asyncio.wait_for(stopping, 10)
    await agent.close_all()
    c2 = await agent.client()  # a new daemon adopts the run, stop_requested and all
    final = await wait_for(c2, run["id"], {"stopped", "exited", "failed", "lost"}, timeout=60)
    assert final["status"] == "stopped", final
    deadline = time.monotonic() + 60
    while os.path.exists(f"/proc/{pid}"):
        assert time.monotonic() < deadline, "the job's process outlived the cancel"
        await asyncio.sleep(0.2)
    assert slurm.run("squeue", "-h", "-j", str(run["slurm_job_id"]), check=False).strip() == ""


async def test_a_stop_cut_before_its_signal_went_out_signals_then_cancels(
    slurm: SlurmLab,  # noqa: F811
    agent: Agent,
    workdir: str,
) -> None:
    """The daemon died between noting the stop and `scancel --signal=INT`: the next one sends
    the signal (the job saves its state) before the cancel, not a bare cancel."""
    import json

    from rdt_tui.agent.runs import RunStore

    marker = os.path.join(workdir, "got-sigint")
    ready = os.path.join(workdir, "ready")
    job = script(
        workdir,
        "stubborn.py",
        f"""
        import os, signal, time
        def on_int(signum, frame):
            open({marker!r}, "w").write("INT")
        signal.signal(signal.SIGINT, on_int)
        open({ready!r}, "w").write("1")
        while True:
            time.sleep(0.1)
        """,
    )
    c = await agent.client()
    run = await c.launch_args(slurm_launch([sys.executable, "-u", job], workdir))
    await wait_for(c, run["id"], {"running"})
    deadline = time.monotonic() + 30
    while not os.path.exists(ready):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    os.kill(agent.daemon_pid(), signal.SIGKILL)
    await agent.close_all()
    # What the dead daemon left: the stop noted, the signal about to go out
    store = RunStore(agent.state_dir)
    store.mark_stop(run["id"], int(signal.SIGINT), 4.0)
    path = os.path.join(store.run_dir(run["id"]), "stop.json")
    with open(path) as fh:
        info = json.load(fh)
    with open(path, "w") as fh:
        json.dump(dict(info, signalling=True), fh)
    c2 = await agent.client()
    final = await wait_for(c2, run["id"], {"stopped", "exited", "failed", "lost"}, timeout=60)
    assert final["status"] == "stopped", final
    assert os.path.exists(marker), "cancelled without the SIGINT"
    assert slurm.run("squeue", "-h", "-j", str(run["slurm_job_id"]), check=False).strip() == ""
