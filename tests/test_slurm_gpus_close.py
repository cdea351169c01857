"""Ending the Slurm GPU sampler step (agent/slurm_gpus.py): srun is sent TERM and given the time
to forward it to the step's tasks on the nodes, KILLed only when it does not end within
``STOP_S``. A srun killed at once cannot tell slurmd to end the step: the sampler tasks keep
running on the nodes beside the job. A stand-in srun (a unit test of this layer: the lab's real
srun answers TERM at once, so the difference shows only in a srun that takes its time) prints
samples like the sampler's step, and on TERM takes a moment "forwarding" before it exits."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rdt_tui.agent import slurm_gpus
from rdt_tui.agent.slurm_gpus import JobGpus

SRUN = """\
import json, signal, sys, time
marker, on_term = sys.argv[1], sys.argv[2]

def term(_s, _f):
    if on_term == "ignore":
        return
    time.sleep(0.5)  # srun asks slurmd to signal the step's tasks and waits for them
    open(marker, "w").write("forwarded")
    sys.exit(0)

signal.signal(signal.SIGTERM, term)
while True:
    print(json.dumps({"node": "n1", "t": time.time(), "gpus": [], "reason": "x"}), flush=True)
    time.sleep(0.1)
"""


def stand_in_srun(tmp_path: Path) -> Path:
    path = tmp_path / "srun"
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(SRUN))
    path.chmod(0o755)
    return path


async def until(what: str, check: object, bound: float = 60.0) -> None:
    deadline = time.monotonic() + bound
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_close_gives_srun_the_time_to_forward_the_term(tmp_path: Path) -> None:
    marker = tmp_path / "forwarded"
    argv = [str(stand_in_srun(tmp_path)), str(marker), "forward"]
    job = JobGpus("5", argv, 1, lambda: None, itertools.count(1))
    job.ensure()
    await until("no sample from the stand-in srun", lambda: len(job.samples) > 0)
    job.close()
    await until("srun was killed before it could forward the TERM", marker.exists)
    assert job._task is not None
    await until("the step's task outlived its srun", job._task.done)
    assert job._proc is not None and job._proc.returncode == 0
    # Ended on purpose: no "Slurm refused the sampler" said after the last sample.
    assert all("refused" not in s["reason"] for _, s in job.samples)


async def test_a_srun_that_ignores_the_term_is_killed_after_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slurm_gpus, "STOP_S", 0.5)
    argv = [str(stand_in_srun(tmp_path)), str(tmp_path / "unused"), "ignore"]
    job = JobGpus("6", argv, 1, lambda: None, itertools.count(1))
    job.ensure()
    await until("no sample from the stand-in srun", lambda: len(job.samples) > 0)
    assert job._proc is not None
    pid = job._proc.pid
    job.close()
    await until("a srun that ignores TERM was never killed", lambda: not alive(pid))
    assert job._task is not None
    await until("the step's task outlived its srun", job._task.done)
    assert job._proc.returncode == -9


async def test_a_srun_whose_stderr_outlives_it_still_ends_its_task_cleanly(
    tmp_path: Path,
) -> None:
    """srun ends, but a process it left behind holds its stderr open: the step's task must
    still end within its bound, say why, and wait RETRY_S before asking again (no
    exception lost in a task no one awaits)."""
    path = tmp_path / "srun"
    path.write_text(
        "#!/bin/sh\necho 'srun: error: Unable to create step' >&2\n"
        "sleep 30 </dev/null >/dev/null &\nexit 1\n"
    )
    path.chmod(0o755)
    job = JobGpus("7", [str(path)], 1, lambda: None, itertools.count(1))
    job.ensure()
    assert job._task is not None
    task = job._task
    await until("the step's task never ended", task.done, bound=15.0)
    assert task.exception() is None
    reason = job.samples[-1][1]["reason"]
    assert "Slurm refused the sampler step" in reason and "Unable to create step" in reason
    job.ensure()
    assert job._task is task  # not started again at once


SILENT_SRUN = """\
import json, time
print(json.dumps({"node": "n1", "t": time.time(), "gpus": [{"index": 0}], "reason": ""}))
print(flush=True)
time.sleep(60)  # a node that hangs: srun waits for it and says nothing
"""


async def test_a_step_that_goes_quiet_is_said_not_shown_as_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After its first samples the step's output used to be awaited without a bound: a node
    that hung left its last readings on the pane as if live, for ever."""
    monkeypatch.setattr(slurm_gpus, "QUIET_S", 0.5, raising=False)
    path = tmp_path / "srun"
    path.write_text(f"#!{sys.executable}\n" + SILENT_SRUN)
    path.chmod(0o755)
    job = JobGpus("8", [str(path)], 1, lambda: None, itertools.count(1))
    job.ensure()
    try:
        await until("no sample", lambda: len(job.samples) > 0)
        assert job.samples[0][1]["gpus"]
        await until("the quiet step was never said", lambda: len(job.samples) > 1)
        last = job.samples[-1][1]
        assert last["gpus"] == [] and "no sample from the job's nodes" in last["reason"]
        await asyncio.sleep(1.2)
        assert len(job.samples) == 2  # said once, not at every bound
    finally:
        job.close()
        if job._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job._proc.pid, 9)
        if job._task is not None:
            await until("the step's task outlived its srun", job._task.done)


ODD_SRUN = """\
import json, time
print(json.dumps({"node": "n1", "t": "soon", "gpus": [{"index": 0}]}))
print(json.dumps({"node": "n1", "t": time.time(), "gpus": ["not a gpu"]}))
print(json.dumps({"node": "n1", "t": time.time(), "gpus": [{"index": 0}], "reason": ""}))
print(json.dumps({"node": "n1", "t": time.time(), "gpus": [{"index": 1}], "reason": ""}))
print(flush=True)
time.sleep(60)
"""


async def test_a_line_that_is_not_a_sample_of_ours_does_not_end_the_telemetry(
    tmp_path: Path,
) -> None:
    """The step's task is a background task no one awaits: a line that looks like a sample
    but is not one (a time that is not a number, a GPU that is not an object) used to raise
    out of it, killing srun and leaving the exception unretrieved. It is skipped."""
    path = tmp_path / "srun"
    path.write_text(f"#!{sys.executable}\n" + ODD_SRUN)
    path.chmod(0o755)
    job = JobGpus("9", [str(path)], 1, lambda: None, itertools.count(1))
    job.ensure()
    try:
        await until("the good samples never came", lambda: len(job.samples) >= 2)
        assert [s["gpus"][0]["node_index"] for _, s in job.samples][-2:] == [0, 1]
        assert job._task is not None and not job._task.done()
    finally:
        job.close()
        if job._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job._proc.pid, 9)
        if job._task is not None:
            await until("the step's task outlived its srun", job._task.done)


async def test_the_bound_kills_srun_even_when_the_reader_misses_its_cancel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python 3.11's wait_for drops a cancel that lands in the same turn as the line it waits
    for (CI caught it: a srun that ignored TERM lived on). The reader here misses every
    cancel, as that one did: the bound must still KILL srun."""
    monkeypatch.setattr(slurm_gpus, "STOP_S", 0.3)
    argv = [str(stand_in_srun(tmp_path)), str(tmp_path / "unused"), "ignore"]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None
    await asyncio.wait_for(proc.stdout.readline(), 10)  # its TERM handler is set

    async def deaf_reader() -> None:
        while proc.returncode is None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.05)

    job = JobGpus("9", argv, 1, lambda: None, itertools.count(1))
    job._proc, job._task = proc, asyncio.ensure_future(deaf_reader())
    try:
        job.close()
        await until(
            "srun outlived the bound when its reader missed the cancel",
            lambda: proc.returncode is not None,
        )
        assert proc.returncode == -9
        await until("the reader outlived srun", job._task.done)
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, 9)
            await proc.wait()
