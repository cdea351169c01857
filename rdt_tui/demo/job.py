"""The demo job as the console launches it: the argv, env and paths (no torch import here)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from typing import Any


class DemoUnavailable(Exception):
    pass


def check_training_extra(python: str = sys.executable) -> None:
    missing = [
        m
        for m in ("torch", "accelerate", "tqdm", "safetensors")
        if importlib.util.find_spec(m) is None
    ]
    if missing and python == sys.executable:
        raise DemoUnavailable(
            f"the demo trainer needs {', '.join(missing)}, which this Python lacks; "
            "install the training extra: pip install torch==2.13.0 -e '.[train]'"
        )


def demo_launch_args(
    workdir: str,
    max_steps: int = 600,
    step_delay: float = 0.25,
    checkpoint_every: int = 100,
    keep: int = 2,
    processes: int = 2,
    python: str = sys.executable,
    use_cpu: bool = True,
    per_gpu_batch: int = 32,
    grad_accum: int = 1,
    mixed_precision: str = "no",
) -> dict[str, Any]:
    """Launch arguments for the demo trainer as ``processes`` real accelerate processes.

    On CPU, ``--cpu --num_processes 2`` silently runs ONE process; two real ranks need
    ``ACCELERATE_USE_CPU=1`` with ``--multi_gpu`` (gloo backend).
    """
    data = os.path.join(workdir, "libero_demo.hdf5")
    # A folder per run (the agent fills in the id): a second run's keep-2 pruning never
    # touches the first run's checkpoints, and each dashboard lists its own.
    out = os.path.join(workdir, "checkpoints", "{run_id}")
    argv = [
        python,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        str(processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        mixed_precision,
        "--dynamo_backend",
        "no",
        "-m",
        "rdt_tui.demo.train",
        "--data",
        data,
        "--output-dir",
        out,
        "--max-steps",
        str(max_steps),
        "--checkpoint-every",
        str(checkpoint_every),
        "--keep",
        str(keep),
        "--step-delay",
        str(step_delay),
        "--batch-size",
        str(per_gpu_batch),
        "--grad-accum",
        str(grad_accum),
    ]
    env = {"ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"} if use_cpu else {}
    return {
        "argv": argv,
        "cwd": workdir,
        "env": env,
        "name": "demo",
        "checkpoint_dir": out,
        "checkpoint_globs": ["checkpoint-*"],
    }


def ensure_dataset(workdir: str, python: str = sys.executable) -> str:
    """Make the demo dataset once, in a child process (the console never imports the job)."""
    path = os.path.join(workdir, "libero_demo.hdf5")
    if not os.path.exists(path):
        os.makedirs(workdir, exist_ok=True)
        done = subprocess.run(
            [python, "-m", "rdt_tui.demo.dataset", path],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if done.returncode != 0:
            raise DemoUnavailable(
                "making the demo dataset failed: " + done.stderr.decode("utf-8", "replace")[-2000:]
            )
    return path
