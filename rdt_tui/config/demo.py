"""The shipped ``demo`` profile (``configs/runs/demo.toml``) in a working directory: what
``rdt-tui demo`` launches. The profile says what the demo is; this module only points it at
the directory that holds the dataset and sets the options ``rdt-tui demo`` takes (seconds
per step, checkpoint interval and how many checkpoints to keep). It also checks and makes what
the job needs before it starts (the training extra, the dataset) without importing the job:
the dataset is made by running ``rdt_tui.demo.dataset`` as a child process."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from typing import Any

from .profiles import Profile, ProfileError, load_profile, profile_dirs

DATASET_NAME = "libero_demo.hdf5"
# Making the dataset takes about a second (numpy + h5py import, 16 small episodes); the bound
# is for a wedged child, not a slow machine.
DATASET_TIMEOUT_S = 300.0


class DemoUnavailable(Exception):
    """The demo cannot start here; the message says what to do."""


def check_training_extra(python: str = sys.executable) -> None:
    """DemoUnavailable when this Python lacks the demo trainer's packages (checked only when
    the job runs with this Python: another interpreter is the user's to prepare)."""
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


def ensure_dataset(
    workdir: str, python: str = sys.executable, timeout: float = DATASET_TIMEOUT_S
) -> str:
    """The demo dataset's path in ``workdir``, made once by a child process (the console never
    imports the job). DemoUnavailable when making it fails or takes over ``timeout`` s."""
    path = os.path.join(workdir, DATASET_NAME)
    if not os.path.exists(path):
        os.makedirs(workdir, exist_ok=True)
        try:
            done = subprocess.run(
                [python, "-m", "rdt_tui.demo.dataset", path],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise DemoUnavailable(
                f"making the demo dataset took over {timeout:g} s and was stopped; "
                f"run {python} -m rdt_tui.demo.dataset {path} to see why"
            ) from None
        except OSError as exc:
            raise DemoUnavailable(f"making the demo dataset failed: {exc}") from None
        if done.returncode != 0:
            raise DemoUnavailable(
                "making the demo dataset failed: " + done.stderr.decode("utf-8", "replace")[-2000:]
            )
    return path


def shipped_demo_path() -> str:
    """The demo profile shipped with rdt-tui (not a project's or the user's of that name:
    the demo is ours, whatever a ``configs/runs/demo.toml`` of the current project says)."""
    return os.path.join(profile_dirs()[-1], "demo.toml")


def demo_profile(
    workdir: str,
    step_delay: float | None = None,
    checkpoint_every: int | None = None,
    keep: int | None = None,
) -> Profile:
    """The shipped demo profile run in ``workdir``; an option left None keeps the profile's
    value. ProfileError when the shipped profile is missing or lacks one of those options."""
    profile = load_profile(shipped_demo_path())
    profile.cwd = workdir
    for flag, value in (
        ("--step-delay", step_delay),
        ("--checkpoint-every", checkpoint_every),
        ("--keep", keep),
    ):
        if value is None:
            continue
        if flag not in profile.command[:-1]:
            raise ProfileError(f"{profile.path}: the demo's command has no {flag} VALUE")
        at = profile.command.index(flag)
        profile.command[at + 1] = str(value)
    return profile


def demo_launch_args(
    workdir: str,
    step_delay: float | None = None,
    checkpoint_every: int | None = None,
    keep: int | None = None,
    **values: Any,
) -> dict[str, Any]:
    """Launch arguments of the demo in ``workdir``; ``values`` are launch-form values
    (``max_steps=60``, ``processes=2``...) over the profile's ``[form]``."""
    profile = demo_profile(workdir, step_delay, checkpoint_every, keep)
    return profile.launch_args(values)
