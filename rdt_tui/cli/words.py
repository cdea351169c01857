"""How the command line words a run: its status in a few words and an age ("3m ago")."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .slurm import slurm_word


def age(ts: float | None) -> str:
    if not ts:
        return "-"
    secs = max(0, int(time.time() - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit} ago"
    return f"{secs}s ago"


def status_word(s: Mapping[str, Any]) -> str:
    if s.get("exit_code_known") is False and s["status"] != "running":  # an adopted run
        return f"{s['status']} (exit code unknown)"
    if s.get("slurm_job_id"):
        return slurm_word(s)
    if s["status"] in ("exited", "stopped"):
        code = s.get("exit_code")
        sig = s.get("signal")
        word = f"{s['status']} ({'signal ' + str(sig) if sig else code})"
        left = len(s.get("leftover") or [])
        return word + (f", {left} process{'es' if left > 1 else ''} left" if left else "")
    return str(s["status"])
