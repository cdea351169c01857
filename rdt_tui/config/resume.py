"""Where a profile's resume flags go in the argv, and which resumes are refused.

A resume the script would not read must never be launched: it trains from scratch while the
user believes it continues. Flags placed after a ``key=value`` override are swallowed by a
script that collects its overrides with ``nargs=argparse.REMAINDER`` (GestureLSM's
``train.py``), so a profile whose arguments hold an override must say where its resume goes.
Each shipped profile's placement is checked against a reproduction of its script's parser
(tests/test_resume_placement.py).
"""

from __future__ import annotations

import re

RESUME_AT = ("end", "script")
# A Hydra / OmegaConf-style override (`key=value`, `+key=value`, `data.train_bs=128`).
OVERRIDE = re.compile(r"[+~]{0,2}[A-Za-z_][\w.@/-]*=")


def resume_index(
    at: object, resume_args: list[str], args: list[str] | None, command: list[str]
) -> int | None:
    """The index in ``command`` where ``resume_args`` go (None: the end). ``at`` is the
    profile's ``resume_at``; ``args`` the script's arguments of a launcher profile (None for a
    ``command`` profile). Raises ValueError saying what to change."""
    if at is not None and at not in RESUME_AT:
        raise ValueError(f"`resume_at` must be one of {', '.join(RESUME_AT)}")
    if not resume_args:
        if at is not None:
            raise ValueError("`resume_at` without `resume_args`")
        return None
    if not any("{resume}" in arg for arg in resume_args):
        raise ValueError(
            "`resume_args` must hold {resume} (the checkpoint's path), "
            'e.g. ["--resume_from_checkpoint={resume}"]'
        )
    if at == "script":
        if args is None:
            raise ValueError(
                '`resume_at = "script"` needs a `launcher` with a `script`; '
                "in a `command` profile, put the overrides last and resume at the end"
            )
        return len(command) - len(args)
    override = next(
        (arg for arg in (command[1:] if args is None else args) if OVERRIDE.match(arg)), None
    )
    if at is None and override is not None:
        raise ValueError(
            f"`resume_args` would come after the override {override!r}, where a script "
            "that collects overrides with nargs=argparse.REMAINDER (GestureLSM's train.py) "
            'swallows them and trains from scratch: set resume_at = "script" (right after the '
            'script, before its arguments), or resume_at = "end" if the parser reads flags there'
        )
    return None
