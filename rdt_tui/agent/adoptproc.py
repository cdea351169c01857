"""Processes started outside rdt-tui, read from /proc: what they run, where, and which
processes make up one of them once adopted.

An adopted run has no shim, no marker and no exit record: its processes are the tree recorded
at adoption (pid AND start time, so a reused pid is never taken for one of them), refreshed at
every look so workers started later count, plus the descendants of any of them, plus the
members of a session or process group whose leader is one of them while one of them still
lives in it. A session whose leader is NOT one of them is never counted: a run started with
``nohup ... &`` from a login shell shares that shell's session with the user's shell and every
other job started from it.
"""

import os
import re
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from .procs import Proc

ADOPTED = "adopted"
ENDED = "ended"
EXIT_UNKNOWN = "exit code unknown: the run was started outside rdt-tui, which cannot wait for it"
# Launchers whose children are a training run, by program name or by ``python -m`` module.
LAUNCHER_PROGRAMS = ("accelerate", "torchrun", "deepspeed")
LAUNCHER_MODULES = (
    "accelerate.commands.launch",
    "torch.distributed.run",
    "torch.distributed.launch",
    "deepspeed.launcher.runner",
)
_HYDRA_DIR = re.compile(r"^hydra\.run\.dir=(.+)$")
_OUTPUT_FLAGS = ("--output_dir", "--output-dir")


# ----- one process -----------------------------------------------------------------------
def cmdline(pid: int) -> List[str]:
    """The argv of ``pid`` ([] when gone or a kernel thread)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            data = fh.read()
    except OSError:
        return []
    return [a.decode("utf-8", "replace") for a in data.rstrip(b"\0").split(b"\0")] if data else []


def cwd_of(pid: int) -> Optional[str]:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


def uid_of(pid: int) -> Optional[int]:
    """The real uid of ``pid`` (from /proc/PID/status); None when it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def stdout_of(pid: int) -> Tuple[Optional[str], str]:
    """Where the stdout of ``pid`` goes: ``(path, "file")`` for a regular file, else
    ``(None, why)`` with why one of tty, pipe, socket, null, deleted, unreadable."""
    link = f"/proc/{pid}/fd/1"
    try:
        target = os.readlink(link)
    except OSError:
        return None, "unreadable"
    if target.startswith("pipe:"):
        return None, "pipe"
    if target.startswith("socket:"):
        return None, "socket"
    if target == "/dev/null":
        return None, "null"
    if target.endswith(" (deleted)"):
        return None, "deleted"
    if target.startswith(("/dev/pts/", "/dev/tty")) or target == "/dev/console":
        return None, "tty"
    try:
        import stat

        if not stat.S_ISREG(os.stat(link).st_mode):
            return None, "not a file"
    except OSError:
        return None, "unreadable"
    return target, "file"


def visible_gpus(pid: int) -> Optional[List[str]]:
    """The GPUs ``pid`` was given by CUDA_VISIBLE_DEVICES (None: unset, so every GPU)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            env = fh.read()
    except OSError:
        return None
    for item in env.split(b"\0"):
        if item.startswith(b"CUDA_VISIBLE_DEVICES="):
            text = item.split(b"=", 1)[1].decode("utf-8", "replace")
            return [g.strip() for g in text.split(",") if g.strip()]
    return None


def boot_time() -> float:
    """The epoch second the machine booted (``btime`` of /proc/stat)."""
    try:
        with open("/proc/stat", "rb") as fh:
            for line in fh:
                if line.startswith(b"btime "):
                    return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0.0


def started_epoch(start_ticks: int) -> float:
    """A start time from /proc/PID/stat (clock ticks after boot) as an epoch time."""
    return boot_time() + start_ticks / float(os.sysconf("SC_CLK_TCK"))


# ----- what a command line says ----------------------------------------------------------
def launcher_of(argv: List[str]) -> Optional[str]:
    """The launcher an argv runs (accelerate, torchrun, deepspeed), or None."""
    for i, arg in enumerate(argv[:4]):
        base = os.path.basename(arg)
        if base in LAUNCHER_PROGRAMS:
            return base
        if arg == "-m" and i + 1 < len(argv) and argv[i + 1] in LAUNCHER_MODULES:
            return argv[i + 1].split(".")[0]
    return None


def is_python(argv: List[str], name: str) -> bool:
    prog = os.path.basename(argv[0]) if argv else ""
    return prog.startswith("python") or name.startswith("python")


def guess_checkpoint_dir(argv: List[str], cwd: str, started: float) -> Optional[str]:
    """Where a command line says its outputs go: ``--output_dir``/``--output-dir`` (either
    as ``--flag VALUE`` or ``--flag=VALUE``), Hydra's ``hydra.run.dir=``, else Hydra's default
    ``outputs/DATE/TIME`` under ``cwd`` made within two minutes of the start; None if none."""
    found: Optional[str] = None
    for i, arg in enumerate(argv):
        for flag in _OUTPUT_FLAGS:
            if arg == flag and i + 1 < len(argv):
                found = argv[i + 1]
            elif arg.startswith(flag + "="):
                found = arg[len(flag) + 1 :]
        match = _HYDRA_DIR.match(arg)
        if match:
            found = match.group(1).strip("'\"")
    if found:
        return os.path.abspath(os.path.join(cwd, os.path.expanduser(found)))
    return _hydra_default(cwd, started)


def _hydra_default(cwd: str, started: float) -> Optional[str]:
    import time

    root = os.path.join(cwd, "outputs")
    best: Optional[Tuple[float, str]] = None
    try:
        days = os.listdir(root)
    except OSError:
        return None
    for day in days:
        try:
            times = os.listdir(os.path.join(root, day))
        except OSError:
            continue
        for hms in times:
            try:
                at = time.mktime(time.strptime(f"{day} {hms}", "%Y-%m-%d %H-%M-%S"))
            except ValueError:
                continue
            gap = abs(at - started)
            if gap <= 120 and (best is None or gap < best[0]):
                best = (gap, os.path.join(root, day, hms))
    return best[1] if best else None


# ----- the processes of an adopted run ---------------------------------------------------
def tree_of(state: Dict[str, Any]) -> Dict[int, int]:
    """The recorded processes (pid -> start time), the adopted one included."""
    tree: Dict[int, int] = {}
    for item in state.get("tree") or []:
        if isinstance(item, list) and len(item) == 2:
            tree[int(item[0])] = int(item[1])
    if isinstance(state.get("pid"), int) and isinstance(state.get("start_time"), int):
        tree[state["pid"]] = state["start_time"]
    return tree


def adopted_members(state: Dict[str, Any], table: Dict[int, Proc], exclude: Set[int]) -> List[int]:
    """The live pids of an adopted run (see the module's docstring); never one whose start
    time differs from the one recorded."""
    tree = tree_of(state)
    alive = {p for p, start in tree.items() if p in table and table[p].start == start}
    # A session or group counts while its leader was one of ours AND one of ours still lives
    # in it: the kernel reuses no pid that still names a session or group with a member, so
    # the ids are still the ones we recorded (a dead leader's pid alone proves nothing).
    sids = {table[p].sid for p in alive if table[p].sid in tree}
    pgids = {table[p].pgid for p in alive if table[p].pgid in tree}
    found: Set[int] = set(alive)
    children: Dict[int, List[int]] = {}
    for proc in table.values():
        children.setdefault(proc.ppid, []).append(proc.pid)
        if proc.sid in sids or proc.pgid in pgids:
            found.add(proc.pid)
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found and child not in exclude:
                found.add(child)
                stack.append(child)
    found.discard(1)
    return sorted(found - exclude)


def snapshot(pids: Iterable[int], table: Dict[int, Proc]) -> List[List[int]]:
    """``[[pid, start], ...]`` of the pids still in ``table``: what state.json records."""
    return [[p, table[p].start] for p in sorted(pids) if p in table]


def refresh(run_dir: str, state: Dict[str, Any], pids: List[int], table: Dict[int, Proc]) -> None:
    """Record the tree as it is now (new workers count, the dead are dropped; the adopted
    process stays as ``pid``/``start_time``) and when it was first seen empty."""
    import time

    from .files import write_json_atomic

    now = snapshot(pids, table)
    before = state.get("tree") or []
    changed = sorted(map(tuple, now)) != sorted(tuple(x) for x in before if isinstance(x, list))
    ended = not pids and not state.get("ended_at")
    if not (changed or ended):
        return
    new = dict(state, tree=now)
    if ended:
        new["ended_at"] = time.time()
    try:
        write_json_atomic(os.path.join(run_dir, "state.json"), new)
    except OSError:
        pass  # a full disk: the next look tries again, the kernel's view is the truth anyway
    state.update(new)


def adopted_status(pids: List[int], stopped: bool, state: Dict[str, Any]) -> Dict[str, Any]:
    """The status fields of an adopted run: running while one of its processes lives, then
    ended (or stopped, when we were asked to), with the exit code unknown."""
    if pids:
        return {"status": "running", "pids": pids, "kind": ADOPTED}
    return {
        "status": "stopped" if stopped else ENDED,
        "pids": [],
        "kind": ADOPTED,
        "exit_code": None,
        "exit_code_known": False,
        "exit_note": EXIT_UNKNOWN,
        "ended_at": state.get("ended_at"),
    }


def summary(
    run_dir: str,
    run_id: str,
    spec: Dict[str, Any],
    state: Dict[str, Any],
    scan: Any,
    stop_info: Optional[Dict[str, Any]],
) -> Dict[str, Any]:
    """What RunStore.summary says of an adopted run: its processes now (the tree refreshed
    on disk), its status, and its log."""
    pids = scan.members(run_id, state)
    refresh(run_dir, state, pids, scan.table)
    return dict(adopted_status(pids, stop_info is not None, state), log=spec.get("log"))
