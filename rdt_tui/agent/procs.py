"""Processes by /proc: start times that tell a reused pid apart, and the run marker.

Every process of a job carries ``RDT_TUI_RUN=<run id>`` in its environment. Launchers such as
torchrun put workers in their own sessions and a killed launcher leaves them re-parented to
init, so process groups cannot find them all; the marker can.
"""

import os
import signal
from typing import Dict, Iterable, List, NamedTuple, Optional

RUN_ENV = "RDT_TUI_RUN"
_MARKER = RUN_ENV.encode() + b"="
# Our own variables that must never leak from one run into the daemon or another run's shim.
PRIVATE_ENV = (RUN_ENV,)


def clean_env(env: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """``env`` (default: ours) without any run's marker: what a daemon or shim may pass on."""
    return {k: v for k, v in (os.environ if env is None else env).items() if k not in PRIVATE_ENV}


class Proc(NamedTuple):
    """One line of the process table: ``/proc/<pid>/stat`` fields 2-8 and 22."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str  # R, S, D (uninterruptible: stuck in the kernel), T, Z, ...
    start: int
    name: str


def read_proc(pid: int) -> Optional[Proc]:
    """The process ``pid`` from /proc; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    close = data.rfind(b")")
    fields = data[close + 2 :].split()
    if len(fields) < 20:
        return None
    name = data[data.find(b"(") + 1 : close].decode("utf-8", "replace")
    return Proc(
        pid,
        int(fields[1]),
        int(fields[2]),
        int(fields[3]),
        fields[0].decode("ascii", "replace"),
        int(fields[19]),
        name,
    )


def process_table() -> Dict[int, Proc]:
    """Every live process (zombies left out), by pid."""
    table: Dict[int, Proc] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            proc = read_proc(int(name))
            if proc is not None and proc.state != "Z":
                table[proc.pid] = proc
    return table


def start_time(pid: int) -> Optional[int]:
    """Field 22 of /proc/<pid>/stat (clock ticks after boot); None when the pid is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    if len(fields) < 20 or fields[0] == b"Z":
        return None  # gone, or a zombie that only waits to be reaped
    return int(fields[19])


def is_same_process(pid: Optional[int], started: Optional[int]) -> bool:
    """True when ``pid`` is alive and is the very process that started at ``started``."""
    if not pid or started is None:
        return False
    return start_time(pid) == started


def marked_processes(run_ids: Optional[Iterable[str]] = None) -> Dict[str, List[int]]:
    """Live pids by run id, read from the environment of every process this user may read."""
    wanted = set(run_ids) if run_ids is not None else None
    found: Dict[str, List[int]] = {}
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                env = fh.read()
        except OSError:
            continue  # another user's process, or one that just exited
        run_id = run_of_environ(env)
        if run_id is None:
            continue
        if wanted is not None and run_id not in wanted:
            continue
        if start_time(pid) is None:
            continue
        found.setdefault(run_id, []).append(pid)
    return found


def run_of_environ(env: bytes) -> Optional[str]:
    """The run id in a process's NUL-separated environment, if it carries the marker."""
    at = env.find(_MARKER)
    while at > 0 and env[at - 1] != 0:  # only at the start of a variable
        at = env.find(_MARKER, at + 1)
    if at < 0:
        return None
    end = env.find(b"\0", at)
    return env[at + len(_MARKER) : end if end >= 0 else len(env)].decode("utf-8", "replace")


def run_of_pid(pid: int) -> Optional[str]:
    """The run a process belongs to; None when it has no marker or cannot be read."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return run_of_environ(fh.read())
    except OSError:
        return None


def signal_all(pids: Iterable[int], sig: int) -> int:
    """Send ``sig`` to each pid; the number that received it."""
    sent = 0
    for pid in pids:
        try:
            os.kill(pid, sig)
            sent += 1
        except (ProcessLookupError, PermissionError):
            pass
    return sent


def signal_number(name: str) -> int:
    """``"SIGINT"``, ``"INT"`` or ``"2"`` as a signal number; ValueError otherwise."""
    text = name.strip().upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = "SIG" + text
    value = getattr(signal, text, None)
    if not isinstance(value, int):
        raise ValueError(f"unknown signal {name!r}")
    return int(value)
