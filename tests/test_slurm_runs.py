"""Runs under a real Slurm (tests/slurm_lab.py): submit, pending with its reason, run, exit,
stop (SIGINT first, then cancel), bad input. The agent is the real one, on this machine as the
login node; the job's shim runs inside the allocation and writes to the run's directory."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import time
from typing import Any

import pytest

from rdt_tui.client import AgentCallError
from rdt_tui.protocol.messages import RunSummary

from .conftest import Agent
from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture

pytestmark = pytest.mark.asyncio

PY = sys.executable


def script(workdir: str, name: str, body: str) -> str:
    path = os.path.join(workdir, name)
    with open(path, "w") as fh:
        fh.write(textwrap.dedent(body))
    return path


async def wait_for(c: Any, run: str, want: set[str], timeout: float = 60) -> RunSummary:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        s = await c.status(run)
        if not seen or seen[-1] != s["status"]:
            seen.append(s["status"])
        if s["status"] in want:
            s["seen"] = seen
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run} still {s['status']} after {timeout}s: {s}")
        await asyncio.sleep(0.2)


def read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def slurm_launch(argv: list[str], workdir: str, **slurm_table: Any) -> dict[str, Any]:
    return {
        "argv": argv,
        "cwd": workdir,
        "name": "slurm-test",
        "scheduler": "slurm",
        "slurm": slurm_table,
        "checkpoint_dir": workdir,
        "checkpoint_globs": ["checkpoint-*"],
    }


TRAIN = """
    import os, sys, time
    go = os.path.join(os.path.dirname(os.path.abspath(__file__)), "go")
    for step in range(1, 41):
        print(f"step={step} loss={1.0 / step:.6f}", flush=True)
        if step % 10 == 0:
            os.makedirs(f"checkpoint-{step}")
        if step == 20:
            while not os.path.exists(go):  # the test detaches and re-attaches here
                time.sleep(0.05)
        time.sleep(0.02)
    print("host", os.environ.get("SLURM_JOB_ID"), os.environ.get("SLURMD_NODENAME"))
    sys.exit(3)
"""


async def test_pending_with_reason_then_running_then_exited_with_every_point(
    slurm: SlurmLab,  # noqa: F811
    agent: Agent,
    workdir: str,
) -> None:
    job = script(workdir, "train.py", TRAIN)
    slurm.run("scontrol", "update", "PartitionName=held", "State=DOWN")
    try:
        c = await agent.client()
        run = await c.launch_args(slurm_launch([PY, "-u", job], workdir, partition="held"))
        assert run["slurm_job_id"] and run["slurm_job_id"].isdigit()
        pending = await wait_for(c, run["id"], {"pending"})
        deadline = time.monotonic() + 30
        while pending.get("slurm_reason") != "PartitionDown":  # the scheduler says why
            assert time.monotonic() < deadline, pending
            await asyncio.sleep(0.3)
            pending = await c.status(run["id"])
        assert pending["status"] == "pending"
        listed = {r["id"]: r for r in await c.runs()}[run["id"]]
        assert listed["status"] == "pending" and listed["slurm_reason"] == "PartitionDown"
    finally:
        slurm.run("scontrol", "update", "PartitionName=held", "State=UP")
    running = await wait_for(c, run["id"], {"running"})
    assert running["nodes"] in ("n1", "n2")
    # Detach mid-run (the job waits at step 20), re-attach: nothing lost, nothing twice.
    first = await c.metrics(run["id"])
    await agent.close_all()
    with open(os.path.join(workdir, "go"), "w"):
        pass
    c = await agent.client()
    final = await wait_for(c, run["id"], {"exited"})
    assert final["exit_code"] == 3 and final["slurm_state"] in ("FAILED", "COMPLETED")
    points = await asyncio.wait_for(c.all_metrics(run["id"]), 60)
    losses = sorted(p["step"] or 0 for p in points if p["name"] == "loss")
    assert losses == list(range(1, 41))
    assert len(first["points"]) <= len(points)
    names = {os.path.basename(x["path"]) for x in (await c.checkpoints(run["id"]))["checkpoints"]}
    assert {"checkpoint-10", "checkpoint-20", "checkpoint-30", "checkpoint-40"} <= names
    log = (await c.tail(run["id"], 5))["lines"]
    assert f"host {run['slurm_job_id']} n" in " ".join(log)
    # The wait in the queue was not an end: one exit alert, for the real end.
    deadline = time.monotonic() + 60
    while True:
        alerts = (await c.call("alerts", {}))["alerts"]
        exits = [a for a in alerts if a["run"] == run["id"] and a["kind"] == "exit"]
        if exits:
            break
        assert time.monotonic() < deadline, alerts
        await asyncio.sleep(0.3)
    await asyncio.sleep(1.0)
    alerts = (await c.call("alerts", {}))["alerts"]
    assert len([a for a in alerts if a["run"] == run["id"] and a["kind"] == "exit"]) == 1


async def test_stop_sends_sigint_first_then_cancels_and_leaves_nothing(
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
        signal.signal(signal.SIGINT, on_int)  # saves its state and carries on: needs a cancel
        open({pidfile!r}, "w").write(str(os.getpid()))
        print("ready", flush=True)
        while True:
            time.sleep(0.1)
        """,
    )
    c = await agent.client()
    run = await c.launch_args(slurm_launch([PY, "-u", job], workdir))
    await wait_for(c, run["id"], {"running"})
    deadline = time.monotonic() + 30
    while not os.path.exists(pidfile) or not os.path.getsize(pidfile):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    pid = int(read(pidfile))
    final = await c.stop(run["id"], grace=5)  # outlasts the SIGINT's way through Slurm
    assert final["status"] == "stopped", final
    assert read(marker) == "INT"  # the job had its SIGINT before the cancel
    assert not os.path.exists(f"/proc/{pid}")
    assert slurm.run("squeue", "-h", "-j", str(run["slurm_job_id"]), check=False).strip() == ""
    again = await c.stop(run["id"], grace=1)
    assert again.get("already_ended") and again["status"] == "stopped"


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"nodes": 0}, "nodes must be a whole number of at least 1"),
        ({"partition": "nosuchpart"}, "invalid partition"),
        ({"extra": ["#SBATCH --gres=nosuch:1"]}, "Invalid generic resource"),
        ({"partition": "debug; rm -rf /"}, "is not one word"),
    ],
)
async def test_bad_input_is_refused_with_slurms_words_and_leaves_no_run(
    slurm: SlurmLab,  # noqa: F811
    agent: Agent,
    workdir: str,
    table: dict[str, Any],
    words: str,
) -> None:
    c = await agent.client()
    with pytest.raises(AgentCallError) as err:
        await c.launch_args(slurm_launch([PY, "-c", "print(1)"], workdir, **table))
    assert words.lower() in str(err.value).lower()
    assert await c.runs() == []
    runs_dir = os.path.join(agent.state_dir, "runs")
    assert not os.path.isdir(runs_dir) or os.listdir(runs_dir) == []


async def test_a_job_near_its_time_limit_raises_an_alert(
    slurm: SlurmLab,  # noqa: F811
    agent: Agent,
    workdir: str,
) -> None:
    c = await agent.client()
    args = slurm_launch([PY, "-c", "import time; time.sleep(120)"], workdir, time="00:01:00")
    run = await c.launch_args(dict(args, alerts={"time_limit_warn_s": 120}))
    running = await wait_for(c, run["id"], {"running"})
    assert 0 < running["time_left"] <= 60 and running["time_limit"] == "00:01:00"
    deadline = time.monotonic() + 30
    while True:
        alerts = (await c.call("alerts", {}))["alerts"]
        mine = [a for a in alerts if a["run"] == run["id"] and a["kind"] == "time_limit"]
        if mine:
            break
        assert time.monotonic() < deadline, alerts
        await asyncio.sleep(0.3)
    assert "min left of the job's time limit" in mine[0]["message"]
    assert (await c.stop(run["id"], grace=1))["status"] == "stopped"


async def test_stopping_a_job_still_in_the_queue_cancels_it_without_the_grace(
    slurm: SlurmLab,  # noqa: F811
    agent: Agent,
    workdir: str,
) -> None:
    slurm.run("scontrol", "update", "PartitionName=held", "State=DOWN")
    try:
        c = await agent.client()
        run = await c.launch_args(slurm_launch([PY, "-c", "print(1)"], workdir, partition="held"))
        await wait_for(c, run["id"], {"pending"})
        t0 = time.monotonic()
        final = await c.stop(run["id"], grace=120)
        assert final["status"] == "stopped" and final["slurm_state"] == "CANCELLED", final
        assert time.monotonic() - t0 < 30  # not the 120 s grace: nothing ran to be signalled
        assert "cancelled outside" not in (final.get("error") or "")
    finally:
        slurm.run("scontrol", "update", "PartitionName=held", "State=UP")
