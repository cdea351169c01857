"""The console's words for runs under Slurm: the launch form's batch script, a pending run's
reason on the dashboard."""

from __future__ import annotations

import shlex
from typing import Any

from ..core.slurm_script import SlurmOptionError, preview
from ..protocol.messages import RunSummary


def launch_text(args: dict[str, Any], command: str) -> str:
    """``command`` (the form's command line), or for a Slurm profile the batch script."""
    if args.get("scheduler") != "slurm":
        return command
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted((args.get("env") or {}).items()))
    try:
        script = preview(args.get("slurm") or {}, list(args["argv"]), args.get("name"))
    except SlurmOptionError as exc:
        return f"! fix the profile's [slurm] table: {exc}"
    head = f"sbatch, with {env} added to the job's environment" if env else "sbatch"
    return f"{head}\n{script}"


def waiting_text(status: RunSummary) -> str:
    """Why a pending Slurm run waits ('' for any other run)."""
    if status.get("status") not in ("pending", "requeued") or not status.get("slurm_job_id"):
        return ""
    reason = status.get("slurm_reason") or "queued"
    when = (
        f"; Slurm expects it to start at {status['expected_start']}"
        if status.get("expected_start")
        else ""
    )
    again = f" (attempt {int(status['restarts']) + 1})" if status.get("restarts") else ""
    return f"Slurm job {status['slurm_job_id']} is waiting{again}: {reason}{when}"


def gpu_text(status: RunSummary) -> str:
    """The GPU pane of a Slurm run before its nodes' first sample: the agent on the login node
    sees none of the job's GPUs; a sampler started inside the allocation reports them."""
    job = status.get("slurm_job_id")
    if status.get("status") == "running":
        return (
            f"GPUs of Slurm job {job} on {status.get('nodes') or '?'}: waiting for the first "
            "sample from inside the allocation (srun --overlap)"
        )
    return f"GPUs of Slurm job {job}: shown once it runs, from inside the allocation"
