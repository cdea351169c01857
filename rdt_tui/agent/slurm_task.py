"""The task of a Slurm job on one node (``agent slurm-task [--resume JSON] -- ARGV``).

Inside the allocation: fills the node placeholders from Slurm's environment (the rendezvous of
a multi-node launch) and, on a requeued attempt, inserts the resume arguments with the newest
checkpoint; then execs the launcher. Standard library only.

With several nodes (``--lines``) the task does not exec: it relays the launcher's output
(see relay()), because Slurm merges the nodes' outputs into one file by whole lines only.
"""

import json
import os
import signal
import subprocess
import sys
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
    lines = bool(argv) and argv[0] == "--lines"
    if lines:
        argv = argv[1:]
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
    if lines:
        return relay(filled)
    try:
        os.execvp(filled[0], filled)
    except OSError as exc:  # not on this node either (a module not loaded, a typo)
        node = os.environ.get("SLURMD_NODENAME") or "this node"
        print(f"[rdt-tui] cannot start {filled[0]!r} on {node}: {exc.strerror or exc}")
        return 127
    return 127  # pragma: no cover - exec does not return


# Signals a stop or a preemption notice may send. The step's signal reaches every process of
# the step (Slurm signals the whole container), so the relay lets it pass and outlives the
# launcher: a handler, not SIG_IGN, because an ignored signal would stay ignored in the child.
_PASSING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


def relay(argv: List[str], out_fd: int = 1) -> int:
    """Run ``argv`` with its stdout and stderr on a pipe and copy them to ``out_fd``, every
    lone carriage return made a newline.

    Why: slurmstepd forwards a task's output by whole lines and cuts a line only when its
    buffer is full, and srun writes the nodes' pieces into one file as they come. A progress
    bar repaints with "\r" and no "\n", so two nodes' bars were cut mid-record into each
    other ("loss=0.9, lr=0.000" + the other node's bar + "285]") and steps were lost. Ended by
    a newline, each repaint arrives whole. Returns the launcher's exit status (its signal
    raised again on this process, so Slurm records the same end)."""
    for sig in _PASSING:
        signal.signal(sig, lambda _s, _f: None)
    read_fd, write_fd = os.pipe()
    try:
        child = subprocess.Popen(argv, stdout=write_fd, stderr=write_fd)
    except OSError as exc:
        print(f"[rdt-tui] cannot start {argv[0]!r}: {exc.strerror or exc}", file=sys.stderr)
        return 127
    finally:
        os.close(write_fd)
    cut = CarriageReturns()
    broken = False
    while True:
        data = os.read(read_fd, 65536)
        if not data:
            break
        if not broken:  # output gone (srun ended): keep reading so the launcher never blocks
            broken = not _write_all(out_fd, cut.feed(data))
    os.close(read_fd)
    code = child.wait()
    if code < 0:
        if -code in _PASSING:
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code
    return code


class CarriageReturns:
    """Lone "\r" to "\n" across reads: "\r\n" stays one newline even when a read ends
    between the two bytes."""

    def __init__(self) -> None:
        self.after_cr = False

    def feed(self, data: bytes) -> bytes:
        if self.after_cr and data[:1] == b"\n":
            data = data[1:]
        data = data.replace(b"\r\n", b"\n")
        self.after_cr = data.endswith(b"\r")
        return data.replace(b"\r", b"\n")


def _write_all(fd: int, data: bytes) -> bool:
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        return False
    return True


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
