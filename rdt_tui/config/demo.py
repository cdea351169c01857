"""The shipped ``demo`` profile (``configs/runs/demo.toml``) in a working directory: what
``rdt-tui demo`` launches. The profile says what the demo is; this module only points it at
the directory that holds the dataset and sets the options ``rdt-tui demo`` takes (seconds
per step, checkpoint interval and how many checkpoints to keep)."""

from __future__ import annotations

import os
from typing import Any

from .profiles import Profile, ProfileError, load_profile, profile_dirs


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
