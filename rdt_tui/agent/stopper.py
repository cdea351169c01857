"""Which processes belong to a run, and the stop escalation that ends them all, bounded.

A run's processes are found by everything the OS gives, so none escapes by one trick:
the run's cgroup (where one could be made), the recorded job pid (checked by start time), the
descendants of the shim (a child subreaper, so orphans stay below it), the shim's session and
the job's process group, and the marker in the environment. A re-exec drops the marker but
keeps the pid, the session and the cgroup; ``env -i`` drops the marker but not the tree;
``setsid`` leaves the session but not the tree, the marker or the cgroup.

Never counted: the shim (it records the exit), this daemon, another run's shim and whatever
lives below them (a daemon started from inside a run is re-parented to that run's shim).
"""

import asyncio
import signal
import time
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Set

from . import cgroups
from .procs import Proc

KILL_BOUND_S = 10.0  # SIGKILL is repeated this long; what is left then is reported
STATES = {
    "D": "uninterruptible sleep (stuck in the kernel: a hung driver or NFS)",
    "T": "stopped",
    "t": "stopped by a debugger",
    "Z": "zombie",
}


def _pid(state: Dict[str, Any], key: str, start_key: str, table: Dict[int, Proc]) -> Optional[int]:
    """The pid recorded under ``key``, unless that pid now belongs to a stranger (alive with
    another start time than the one recorded)."""
    pid = state.get(key)
    if not isinstance(pid, int) or pid <= 1:
        return None
    proc = table.get(pid)
    if proc is not None and proc.start != state.get(start_key):
        return None
    return pid


def run_members(
    state: Dict[str, Any],
    table: Dict[int, Proc],
    marked: Iterable[int],
    exclude: Set[int],
) -> List[int]:
    """The live pids of one run. ``state`` is its state.json, ``table`` the process table,
    ``marked`` the pids carrying its marker, ``exclude`` pids never to count nor descend into
    (this daemon, every run's shim, processes marked for another run)."""
    found: Set[int] = {p for p in marked if p in table}
    shim = _pid(state, "shim_pid", "shim_start", table)
    job = _pid(state, "pid", "start_time", table)
    # A session or group id is not reused while a member lives; once its leader's pid belongs
    # to a stranger, the ids are someone else's (_pid then gives None).
    sid, pgid = shim, job
    roots = [p for p in (shim, job) if p is not None and p in table]
    found.update(p for p in roots if p == job)
    children: Dict[int, List[int]] = {}
    for proc in table.values():
        children.setdefault(proc.ppid, []).append(proc.pid)
        if (sid is not None and proc.sid == sid) or (pgid is not None and proc.pgid == pgid):
            found.add(proc.pid)
    found.update(p for p in cgroups.pids(state.get("cgroup")) if p in table)
    seen: Set[int] = set()
    while roots:
        pid = roots.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for child in children.get(pid, []):
            if child not in exclude:
                found.add(child)
                roots.append(child)
    if shim is not None:
        found.discard(shim)
    found.discard(1)
    return sorted(found - exclude)


def describe(pid: int, proc: Optional[Proc]) -> Dict[str, Any]:
    """A process that would not die, for the stop's report."""
    if proc is None:
        return {"pid": pid, "state": "?", "name": "", "why": "gone"}
    return {
        "pid": pid,
        "state": proc.state,
        "name": proc.name,
        "why": STATES.get(proc.state, "did not die"),
    }


async def escalate(
    find: Callable[[], Awaitable[List[int]]],
    send: Callable[[List[int], int], None],
    lookup: Callable[[int], Optional[Proc]],
    sig: int,
    grace: float,
    term_grace: float = 5.0,
    kill_bound: float = KILL_BOUND_S,
    clock: Callable[[], float] = time.monotonic,
    pause: float = 0.1,
) -> List[Dict[str, Any]]:
    """``sig`` (SIGINT), ``grace`` seconds for a final checkpoint, SIGTERM, ``term_grace``,
    then SIGKILL until none is left or ``kill_bound`` passed. The processes left then (stuck
    in the kernel, or not ours to kill) are returned with their state; empty when all died."""
    for step_sig, wait in ((sig, grace), (int(signal.SIGTERM), term_grace)):
        pids = await find()
        if not pids:
            return []
        send(pids, step_sig)
        deadline = clock() + wait
        while clock() < deadline:
            await asyncio.sleep(pause)
            if not await find():
                return []
    deadline = clock() + kill_bound
    while True:
        pids = await find()
        if not pids:
            return []
        if clock() >= deadline:
            return [describe(pid, lookup(pid)) for pid in pids]
        send(pids, int(signal.SIGKILL))
        await asyncio.sleep(min(pause, 0.05))


def report(left: List[Dict[str, Any]]) -> str:
    """One sentence for the user about the processes a stop could not end."""
    parts = [
        "{} ({}, state {}: {})".format(p["pid"], p["name"], p["state"], p["why"]) for p in left
    ]
    return "{} process{} would not die after SIGKILL: {}".format(
        len(left), "" if len(left) == 1 else "es", "; ".join(parts)
    )
