"""The task of a Slurm job on one node (``agent slurm-task [--resume JSON] -- ARGV``).

Inside the allocation: fills the node placeholders from Slurm's environment (the rendezvous of
a multi-node launch) and, on a requeued attempt, inserts the resume arguments with the newest
checkpoint; then execs the launcher. Standard library only.
"""

import json
import os
from typing import Any, Dict, List, Optional

from . import ckptscan
from .slurm import _int, _run, parse_show_job


def rendezvous(env: Dict[str, str], port: str = "29500") -> Dict[str, str]:
    """The node placeholders from Slurm's environment inside one srun task."""
    nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST") or ""
    first = ""
    if nodelist:
        code, out, _err = _run(["scontrol", "show", "hostnames", nodelist], timeout=10)
        first = out.split()[0] if code == 0 and out.split() else nodelist.split(",")[0]
        # The address Slurm itself reaches the node at (NodeAddr; the name when unset)
        code, out, _err = _run(["scontrol", "show", "node", "-o", first], timeout=10)
        addr = parse_show_job(out).get("NodeAddr") if code == 0 and out.strip() else None
        first = addr or first
    nnodes = env.get("SLURM_NNODES") or env.get("SLURM_JOB_NUM_NODES") or "1"
    per_node = env.get("RDT_TUI_PROCESSES_PER_NODE") or "1"
    try:
        total = str(int(nnodes) * int(per_node))
    except ValueError:
        total = nnodes
    return {
        "node_rank": env.get("SLURM_NODEID") or "0",
        "num_machines": nnodes,
        "total_processes": total,
        "main_process_ip": first or "127.0.0.1",
        "main_process_port": env.get("RDT_TUI_MAIN_PORT") or port,
    }


def task_main(argv: List[str]) -> int:
    """``agent slurm-task [--resume JSON] -- ARGV``: on a requeued attempt insert the resume
    arguments with the newest checkpoint, fill the node placeholders, become the launcher."""
    resume: Optional[Dict[str, Any]] = None
    if len(argv) >= 2 and argv[0] == "--resume":
        resume = json.loads(argv[1])
        argv = argv[2:]
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        return 2
    attempt = _int(os.environ.get("SLURM_RESTART_COUNT"))
    if resume and attempt > 0:
        argv = resumed(argv, resume, attempt)
    values = rendezvous(dict(os.environ))
    filled = [_fill(a, values) for a in argv]
    os.execvp(filled[0], filled)
    return 127  # pragma: no cover - exec does not return


def resumed(argv: List[str], resume: Dict[str, Any], attempt: int) -> List[str]:
    """``argv`` with the resume arguments of the newest checkpoint (as it is, with a line in
    the log saying so, when there is none yet)."""
    found = ckptscan.scan(resume["checkpoint_dir"], resume.get("globs") or ())
    with_step = [c for c in found if c.get("step") is not None]
    newest = (with_step or found)[-1] if found else None
    if newest is None:
        print(f"[rdt-tui] attempt {attempt + 1}: no checkpoint yet, starting over", flush=True)
        return argv
    path = str(newest["path"])
    print(f"[rdt-tui] attempt {attempt + 1}: resuming from {path}", flush=True)
    args = [a.replace("{resume}", path) for a in resume["args"]]
    at = len(argv) if resume.get("index") is None else int(resume["index"])
    return argv[:at] + args + argv[at:]


def _fill(text: str, values: Dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text
