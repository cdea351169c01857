"""Runs started by hand, the way users start them: a real 2-process accelerate run of the demo
trainer on the CPU under ``nohup ... > train.log 2>&1 &`` or in a detached tmux session, with
no rdt-tui in sight (no marker, no shim). Shared by the adoption tests."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

from rdt_tui.agent.procs import process_table, start_time
from rdt_tui.config.demo import ensure_dataset

ACCELERATE = os.path.join(os.path.dirname(sys.executable), "accelerate")


def train_argv(workdir: str, steps: int, delay: float, out: str = "out") -> list[str]:
    """``accelerate launch`` (the program, as users type it) of the demo trainer: two real
    ranks on the CPU (ACCELERATE_USE_CPU=1 with --multi_gpu; --cpu would run one)."""
    ensure_dataset(workdir)
    return [
        ACCELERATE,
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "rdt_tui.demo.train",
        "--data",
        os.path.join(workdir, "libero_demo.hdf5"),
        "--output-dir",  # the demo's spelling; the small jobs of test_adopt.py use --output_dir
        out,  # relative: the guess must resolve it against the process's cwd
        "--max-steps",
        str(steps),
        "--checkpoint-every",
        "10",
        "--keep",
        "2",
        "--step-delay",
        str(delay),
        "--batch-size",
        "8",
    ]


def job_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RDT_TUI_RUN"}
    env.update(ACCELERATE_USE_CPU="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


def shell(workdir: str, *commands: list[str], log: str = "train.log") -> list[int]:
    """``nohup CMD > LOG 2>&1 &`` for the first command, then each other one in the
    background, from one shell in ``workdir``: their pids. The shell leads a session of its
    own (as a login shell does) that it leaves to them: they share its session and group,
    whose leader is no process of theirs, and a mistake that stops the session stops them,
    never the test runner."""
    first = f"nohup {shlex.join(commands[0])} > {shlex.quote(log)} 2>&1 & echo $!"
    rest = [f"{shlex.join(c)} > /dev/null 2>&1 & echo $!" for c in commands[1:]]
    out = subprocess.run(
        ["sh", "-c", "; ".join([first, *rest])],
        cwd=workdir,
        env=job_env(),
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
    )
    return [int(x) for x in out.stdout.split()]


def decoy_argv() -> list[str]:
    """A command line like a training run's, of the same user, that no stop of the adopted
    run may touch."""
    code = "import time; time.sleep(900)"
    return [
        sys.executable,
        "-c",
        code,
        "-m",
        "accelerate.commands.launch",
        "-m",
        "rdt_tui.demo.train",
    ]


def alive(pid: int, start: int | None) -> bool:
    return start is not None and start_time(pid) == start


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def tree(pid: int) -> set[int]:
    """``pid`` and its live descendants, from /proc."""
    table = process_table()
    found, stack = {pid} if pid in table else set(), [pid]
    while stack:
        parent = stack.pop()
        for p in table.values():
            if p.ppid == parent and p.pid not in found:
                found.add(p.pid)
                stack.append(p.pid)
    return found


def kill_tree(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def has_tmux() -> bool:
    return shutil.which("tmux") is not None


def read(path: str) -> str:
    with open(path, errors="replace") as fh:
        return fh.read()
