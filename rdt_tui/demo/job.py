"""What the console checks and makes before it launches the demo job (no torch import here):
the training extra and the dataset. What the demo runs is the shipped ``demo`` profile
(``configs/runs/demo.toml``, read by ``config/demo.py``)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys


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
