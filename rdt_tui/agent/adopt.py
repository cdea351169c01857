"""Runs started by hand (tmux, nohup) made first-class: ops ``candidates`` and ``adopt``.

An adopted run is a run directory like any other, with ``kind: "adopted"`` in its spec and
state. Its ``output.log`` is a symbolic link to the user's own log, so the watcher, ``logs``,
subscriptions and alerts follow that file from its first byte; we only ever read it. Its
processes are the tree recorded at adoption and refreshed at every look
(``agent/adoptproc.py``); a stop escalates over them as over any run. Nothing waits for the
process, so its exit code cannot be known: the run ends as ``ended``, exit code unknown.
"""

import asyncio
import os
import shutil
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from ..protocol import errors
from ..protocol.errors import AgentError
from . import adoptproc
from .files import write_json_atomic
from .gpu import RunOfPid
from .procs import read_proc, run_of_pid
from .runspec import metric_format_of, metric_source_of, node_path

_STDOUT_HINT = {
    "tty": "its output goes to a terminal (a tmux pane or an ssh session), not to a file",
    "pipe": "its output goes to a pipe (`| tee`, a logger), not to a file",
    "socket": "its output goes to a socket (a systemd journal?), not to a file",
    "null": "its output is thrown away (/dev/null)",
    "deleted": "its log file was deleted while it writes to it",
}


def _gpu_pids(samples: Any) -> Set[int]:
    if not samples:
        return set()
    return {
        int(p["pid"])
        for g in samples[-1][1].get("gpus") or []
        for p in g.get("processes") or []
        if isinstance(p.get("pid"), int)
    }


def candidates(store: Any, gpu_pids: Set[int]) -> List[Dict[str, Any]]:
    """Training processes of this user that no run of ours holds: python processes that
    hold a GPU or run under accelerate/torchrun/deepspeed. One entry per tree (its
    topmost such process), with its command line, cwd, log file and worker count."""
    scan = store.scan()  # the process table and every process's marker, read once
    table = scan.table
    marked = {p for pids in scan.marked.values() for p in pids}
    me = os.getuid()
    ours: Dict[int, str] = {}
    for run_id in store.run_ids():
        for pid in scan.members(run_id, store.summary_state(run_id)):
            ours[pid] = run_id
    qualifies: Dict[int, List[str]] = {}
    launched: Set[int] = set()
    for pid, proc in table.items():
        if pid in scan.exclude or pid in marked or adoptproc.uid_of(pid) != me:
            continue
        argv = adoptproc.cmdline(pid)
        if not argv or not adoptproc.is_python(argv, proc.name):
            continue
        if adoptproc.launcher_of(argv):
            launched.add(pid)
        qualifies[pid] = argv

    def under_launcher(pid: int) -> bool:
        seen = 0
        while pid in table and seen < 64:
            if pid in launched:
                return True
            pid, seen = table[pid].ppid, seen + 1
        return False

    chosen = {p for p in qualifies if p in gpu_pids or under_launcher(p)}
    for pid in chosen & gpu_pids:  # a GPU worker of a python parent (mp.spawn): the parent
        for _ in range(64):
            parent = table[pid].ppid
            if parent not in qualifies:
                break
            pid = parent
        chosen.add(pid)
    out = []
    for pid in sorted(chosen):
        parent, top = table[pid].ppid, True
        for _ in range(64):
            if parent in chosen:
                top = False
                break
            if parent not in table:
                break
            parent = table[parent].ppid
        if not top:
            continue
        members = adoptproc.adopted_members(
            {"pid": pid, "start_time": table[pid].start}, table, scan.exclude
        )
        log, where = adoptproc.stdout_of(pid)
        out.append(
            {
                "pid": pid,
                "start_time": table[pid].start,
                "started_at": adoptproc.started_epoch(table[pid].start),
                "argv": qualifies[pid],
                "cwd": adoptproc.cwd_of(pid),
                "log": log,
                "stdout": where,
                "launcher": adoptproc.launcher_of(qualifies[pid]),
                "processes": len(members),
                "gpu": any(p in gpu_pids for p in members),
                "run": ours.get(pid),  # already one of our runs (adopted earlier)
            }
        )
    return out


def check_adoptable(pid: Any) -> int:
    """``pid`` as an int, if it names a live process of this user; an AgentError otherwise."""
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        raise AgentError(errors.BAD_REQUEST, f"--pid {pid!r} is not a process id") from None
    hint = "list the training processes with `rdt-tui adopt HOST` (no --pid)"
    if pid <= 1:
        raise AgentError(errors.BAD_REQUEST, f"process {pid} is no training run", hint)
    owner = adoptproc.uid_of(pid)
    if owner is None:
        raise AgentError(errors.BAD_REQUEST, f"no process {pid} on this host", hint)
    if owner != os.getuid():
        raise AgentError(
            errors.BAD_REQUEST,
            f"process {pid} belongs to user {_user(owner)}, not to you ({_user(os.getuid())})",
            "adopt runs of your own user; log in as its owner to adopt that one",
        )
    marked = run_of_pid(pid)
    if marked:
        raise AgentError(
            errors.BAD_REQUEST,
            f"process {pid} is already part of run {marked}, launched by rdt-tui",
            f"watch it with `rdt-tui watch HOST {marked}`",
        )
    return pid


def _user(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def resolve_log(pid: int, given: Optional[str], cwd: str) -> str:
    """The log to follow: ``given`` (relative to the process's cwd), else the file its
    stdout points to; an AgentError saying why when there is none."""
    if given:
        path = os.path.abspath(os.path.join(cwd, os.path.expanduser(given)))
        if not os.path.isfile(path):
            raise AgentError(
                errors.BAD_REQUEST,
                f"log {path} is not a file on this host",
                "give the file the run writes its log to (relative paths are from its cwd)",
            )
        if not os.access(path, os.R_OK):
            raise AgentError(errors.BAD_REQUEST, f"log {path} is not readable by you")
        return path
    log, where = adoptproc.stdout_of(pid)
    if log is None:
        raise AgentError(
            errors.BAD_REQUEST,
            "process {}: {}, so there is no log file to follow".format(
                pid, _STDOUT_HINT.get(where, f"its stdout is {where}")
            ),
            "pass --log PATH with the file it writes its log to (a FileHandler, `tee`)",
        )
    return log


class AdoptOps:
    """The ``candidates`` and ``adopt`` ops, mixed into AgentService."""

    store: Any
    gpu_samples: Any
    _adopt_lock: Optional[asyncio.Lock] = None

    def watcher(self, run_id: str) -> Any:
        raise NotImplementedError

    async def op_candidates(self, args: Dict[str, Any]) -> Dict[str, Any]:
        loop = asyncio.get_event_loop()
        found = await loop.run_in_executor(
            None, candidates, self.store, _gpu_pids(self.gpu_samples)
        )
        return {"candidates": found}

    async def op_adopt(self, args: Dict[str, Any]) -> Dict[str, Any]:
        loop = asyncio.get_event_loop()
        if self._adopt_lock is None:
            self._adopt_lock = asyncio.Lock()
        async with self._adopt_lock:  # two adoptions of one process make one run
            run_id = await loop.run_in_executor(None, self._adopt, args)
        self.watcher(run_id)
        return self.store.summary(run_id)

    def _adopt(self, args: Dict[str, Any]) -> str:
        pid = check_adoptable(args.get("pid"))
        scan = self.store.scan()
        table = scan.table
        proc = table.get(pid)
        if proc is None:
            raise AgentError(errors.BAD_REQUEST, f"process {pid} just ended")
        if pid in scan.exclude:
            raise AgentError(errors.BAD_REQUEST, f"process {pid} is rdt-tui's own agent")
        # Part of a run already: adopted before (that run), or launched by us (refused).
        for run_id in self.store.run_ids():
            state = self.store.summary_state(run_id)
            if pid not in scan.members(run_id, state):
                continue
            if state.get("kind") == adoptproc.ADOPTED:
                return str(run_id)
            raise AgentError(
                errors.BAD_REQUEST,
                f"process {pid} is already part of run {run_id}, launched by rdt-tui",
                f"watch it with `rdt-tui watch HOST {run_id}`",
            )
        metric_format = metric_format_of(args)
        argv = adoptproc.cmdline(pid)
        if not argv:
            raise AgentError(errors.BAD_REQUEST, f"process {pid} is a kernel thread, no run")
        cwd = adoptproc.cwd_of(pid) or "/"
        log = resolve_log(pid, args.get("log"), cwd)
        started = adoptproc.started_epoch(proc.start)
        ckpt = args.get("checkpoint_dir")
        ckpt = (
            node_path(cwd, str(ckpt))
            if ckpt
            else adoptproc.guess_checkpoint_dir(argv, cwd, started)
        )
        name = str(args.get("name") or "") or os.path.basename(cwd.rstrip("/")) or "adopted"
        spec: Dict[str, Any] = {
            "kind": adoptproc.ADOPTED,
            "argv": argv,
            "cwd": cwd,
            "env": {},
            "gpus": adoptproc.visible_gpus(pid),  # what a launch onto its GPUs is told
            "name": name,
            "log": log,
            "metric_format": metric_format,
            "profile": str(args.get("profile") or "") or None,
            "group": None,
            "log_files": [str(p) for p in (args.get("log_files") or [])],
            "event_files": [str(p) for p in (args.get("event_files") or [])],
            "metric_source": metric_source_of(args.get("metric_source")),
            "checkpoint_dir": ckpt or cwd,
            "checkpoint_globs": [str(g) for g in (args.get("checkpoint_globs") or [])],
            "stop_signal": str(args.get("stop_signal") or "SIGINT"),
            "alerts": args["alerts"] if isinstance(args.get("alerts"), dict) else None,
        }
        run_id = self.store.create(spec)
        run_dir = self.store.run_dir(run_id)
        members = adoptproc.adopted_members(
            {"pid": pid, "start_time": proc.start}, table, scan.exclude
        )
        state = {
            "kind": adoptproc.ADOPTED,
            "pid": pid,
            "start_time": proc.start,
            "started_at": started,
            "sid": proc.sid,
            "pgid": proc.pgid,
            "tree": adoptproc.snapshot(members, table),
            "held_by": ["process tree (recorded at adoption, refreshed at every look)"],
        }
        try:
            write_json_atomic(os.path.join(run_dir, "state.json"), state)
            # The run's past is the process's: log_files and event files written since it
            # started are its own (the watcher skips what is older than created_at).
            write_json_atomic(
                os.path.join(run_dir, "spec.json"),
                dict(self.store.spec(run_id), created_at=started, adopted_at=time.time()),
            )
            # Read-only: a link, so every reader of output.log reads the user's file and no
            # writer of ours ever touches it.
            os.symlink(log, os.path.join(run_dir, "output.log"))
        except OSError as exc:  # a full or read-only state directory: no half-made run
            shutil.rmtree(run_dir, ignore_errors=True)
            raise AgentError(
                errors.INTERNAL,
                f"cannot record the adopted run in {run_dir}: {exc}",
                "free space in the agent's state directory, then adopt it again",
            ) from None
        return run_id


class RunOfTree(RunOfPid):
    """Which run a GPU process belongs to: its marker (a run we launched), else an adopted
    run whose recorded tree holds it or one of its ancestors (pid AND start time)."""

    def __init__(self, store: Any, every_s: float = 1.0) -> None:
        super().__init__()
        self.store = store
        self.every_s = every_s
        self._index: Dict[Tuple[int, int], str] = {}
        self._at = -every_s

    def __call__(self, pid: int) -> Optional[str]:
        marked = super().__call__(pid)
        if marked is not None:
            return marked
        now = time.monotonic()
        if now - self._at >= self.every_s:
            self._at = now
            self._index = {}
            for run_id in self.store.run_ids():
                state = self.store.summary_state(run_id)
                if state.get("kind") == adoptproc.ADOPTED:
                    for p, start in adoptproc.tree_of(state).items():
                        self._index[(p, start)] = run_id
        if not self._index:
            return None
        for _ in range(64):  # up the tree: a worker started since the last refresh
            proc = read_proc(pid)
            if proc is None:
                return None
            run_id = self._index.get((pid, proc.start))
            if run_id is not None:
                return run_id
            if proc.ppid <= 1:
                return None
            pid = proc.ppid
        return None
