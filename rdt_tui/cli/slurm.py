"""The command line's words for runs under Slurm, and ``rdt-tui queue HOST``."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from ..client import AgentClient
from .common import AddCommand, emit_json


def slurm_word(s: Mapping[str, Any]) -> str:
    """A Slurm run's status in a few words: why it waits, where it runs, how it ended."""
    status = str(s["status"])
    restarts = int(s.get("restarts") or 0)
    again = f", attempt {restarts + 1}" if restarts else ""
    if status == "pending":
        why = s.get("slurm_reason") or "queued"
        when = f", start ~{s['expected_start']}" if s.get("expected_start") else ""
        return f"pending ({why}{when}{again})"
    if status == "running":
        return f"running on {s.get('nodes') or '?'}{again}"
    if status in ("exited", "stopped", "failed"):
        sig = s.get("signal")
        code = s.get("exit_code")
        detail = f"signal {sig}" if sig else (str(code) if code is not None else "")
        return f"{status} ({detail})" if detail else status
    return status + again


def slurm_lines(s: Mapping[str, Any]) -> list[str]:
    """Extra lines of `rdt-tui status` for a Slurm run."""
    lines = [f"job      {s['slurm_job_id']} ({s.get('slurm_state') or '?'})"]
    if s.get("nodes"):
        lines.append(f"nodes    {s['nodes']}")
    if s.get("slurm_reason"):
        lines.append(f"reason   {s['slurm_reason']}")
    if s.get("expected_start"):
        lines.append(f"expected {s['expected_start']}")
    if s.get("time_limit"):
        lines.append(f"limit    {s['time_limit']}")
    return lines


async def cmd_queue(c: AgentClient, a: argparse.Namespace) -> int:
    result = await c.queue()
    if a.json:
        emit_json(result)
        return 0
    if not result.get("scheduler"):
        print(f"no Slurm on {c.host} (sbatch not found)")
        return 0
    jobs = result.get("jobs") or []
    if not jobs:
        print(f"no jobs of yours in the queue on {c.host}")
        return 0
    print(f"{'JOB':>8} {'NAME':20} {'STATE':10} {'REASON':16} {'TIME':>10} {'NODES':>5} RUN")
    for j in jobs:
        print(
            f"{j['job_id']:>8} {j['name'][:20]:20} {j['state'][:10]:10} {j['reason'][:16]:16} "
            f"{j['time']:>10} {j['nodes']:>5} {j.get('run') or '-'}"
        )
    return 0


def add_parsers(add: AddCommand) -> None:
    add("queue", cmd_queue, "your jobs in the host's Slurm queue, rdt-tui's runs named", run=False)
