"""The SIGKILL loop ends: a process stuck in the kernel is reported with its state."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rdt_tui.agent import stopper
from rdt_tui.agent.procs import Proc, read_proc

from .conftest import Agent, wait_until
from .test_cli import rdt

pytestmark = pytest.mark.asyncio

FREEZER = "/sys/fs/cgroup/freezer"


class FakeProcs:
    """One layer faked: processes that die of some signals, and one that dies of none."""

    def __init__(self, dies_of: dict[int, int | None]) -> None:
        self.dies_of = dies_of  # pid -> the signal that ends it (None: nothing does)
        self.alive = set(dies_of)
        self.sent: list[tuple[int, int]] = []
        self.now = 0.0

    async def find(self) -> list[int]:
        return sorted(self.alive)

    def send(self, pids: list[int], sig: int) -> None:
        for pid in pids:
            self.sent.append((pid, sig))
            if self.dies_of[pid] == sig:
                self.alive.discard(pid)

    def lookup(self, pid: int) -> Proc | None:
        return Proc(pid, 1, pid, pid, "D", 1, "nvidia-smi") if pid in self.alive else None

    def clock(self) -> float:
        self.now += 0.5  # every look at the clock is half a second later
        return self.now


async def test_escalation_goes_int_term_kill_and_reports_what_survives_the_bound() -> None:
    fake = FakeProcs({10: signal.SIGINT, 11: signal.SIGTERM, 12: signal.SIGKILL, 13: None})
    left = await stopper.escalate(
        fake.find, fake.send, fake.lookup, signal.SIGINT, grace=2, term_grace=2,
        kill_bound=3, clock=fake.clock, pause=0,
    )  # fmt: skip
    assert [p["pid"] for p in left] == [13]
    assert left[0]["state"] == "D" and "uninterruptible" in left[0]["why"]
    assert (10, signal.SIGINT) in fake.sent and (11, signal.SIGTERM) in fake.sent
    assert (12, signal.SIGKILL) in fake.sent
    kills = [s for p, s in fake.sent if p == 13 and s == signal.SIGKILL]
    assert 0 < len(kills) < 20  # repeated, but bounded
    assert "13 (nvidia-smi, state D" in stopper.report(left)


async def test_escalation_returns_nothing_when_all_end_politely() -> None:
    fake = FakeProcs({20: signal.SIGINT, 21: signal.SIGINT})
    left = await stopper.escalate(
        fake.find, fake.send, fake.lookup, signal.SIGINT, grace=2, clock=fake.clock, pause=0
    )
    assert left == [] and {s for _, s in fake.sent} == {signal.SIGINT}


@pytest.fixture
def freezer() -> Iterator[str]:
    """A cgroup v1 freezer: a frozen process sleeps uninterruptibly (state D) and SIGKILL
    does not end it until it is thawed, as with a hung driver or NFS server."""
    if os.geteuid() != 0 or not os.path.isdir(FREEZER):
        pytest.skip("needs root and the cgroup v1 freezer to make a process stuck in the kernel")
    path = os.path.join(FREEZER, f"rdt-test-{os.getpid()}")
    os.mkdir(path)
    try:
        yield path
    finally:
        with open(os.path.join(path, "freezer.state"), "w") as fh:
            fh.write("THAWED")
        wait_until(lambda: not Path(path, "tasks").read_text().strip(), what="thaw")
        os.rmdir(path)


async def test_stop_gives_up_on_a_process_stuck_in_the_kernel_and_names_it(
    agent: Agent, workdir: str, freezer: str
) -> None:
    c = await agent.client()
    pid_file = os.path.join(workdir, "stuck")
    job = os.path.join(workdir, "job.py")
    with open(job, "w") as fh:
        fh.write(
            "import subprocess, sys, time\n"
            f"w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
            f"open({pid_file!r}, 'w').write(str(w.pid))\n"
            "time.sleep(600)\n"
        )
    run = await c.launch([sys.executable, job], cwd=workdir)
    wait_until(lambda: os.path.exists(pid_file) and os.path.getsize(pid_file) > 0)
    with open(pid_file) as fh:
        stuck = int(fh.read())
    with open(os.path.join(freezer, "tasks"), "w") as fh:
        fh.write(str(stuck))
    with open(os.path.join(freezer, "freezer.state"), "w") as fh:
        fh.write("FROZEN")
    wait_until(lambda: (read_proc(stuck) or Proc(0, 0, 0, 0, "?", 0, "")).state == "D")
    t0 = time.monotonic()
    # As a user stops it: the CLI says which process is left and in which state, and fails.
    loop = asyncio.get_running_loop()
    done = await loop.run_in_executor(
        None, lambda: rdt(agent.state_dir, "stop", "localhost", run["id"], "--grace", "0.2")
    )
    took = time.monotonic() - t0
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{stuck} (python" in done.stderr and "state D" in done.stderr, done.stderr
    assert "uninterruptible" in done.stderr and "Traceback" not in done.stderr
    assert took < 60, "the stop did not give up"
    status = await c.status(run["id"])  # the job itself is gone; the stuck worker is listed
    assert status["pids"] == [stuck]
    with open(os.path.join(freezer, "freezer.state"), "w") as fh:
        fh.write("THAWED")  # the kernel lets go: the pending SIGKILL ends it
    wait_until(lambda: read_proc(stuck) is None, what="the thawed process to die")
