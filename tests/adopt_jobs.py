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

from rdt_tui.agent.procs import process_table
from rdt_tui.demo.job import ensure_dataset

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


def nohup(workdir: str, argv: list[str], log: str = "train.log") -> int:
    """``nohup ARGV > LOG 2>&1 &`` from a shell in ``workdir``; the launcher's pid."""
    line = f"nohup {shlex.join(argv)} > {shlex.quote(log)} 2>&1 & echo $!"
    out = subprocess.run(
        ["sh", "-c", line], cwd=workdir, env=job_env(), capture_output=True, text=True, timeout=30
    )
    return int(out.stdout.strip())


def decoy(workdir: str) -> subprocess.Popen[bytes]:
    """A process of the same user with a command line like a training run's, that no stop of
    the adopted run may touch."""
    code = "import time; time.sleep(900)"
    return subprocess.Popen(
        [sys.executable, "-c", code, "-m", "accelerate.commands.launch", "-m", "rdt_tui.demo.train"],
        cwd=workdir,
        env=job_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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
