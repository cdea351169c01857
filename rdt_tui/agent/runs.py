"""Runs on disk: ``runs/<id>/`` holds spec.json, state.json, exit.json, stop.json, output.log.

The files are the truth, not the daemon's memory: a daemon killed and restarted reads them
back and re-adopts every live run. A run is *running* while its job (pid AND start time) or
any process carrying its marker is alive, *exited* or *stopped* once the shim wrote exit.json,
and *lost* when none of these hold (the node rebooted, the shim was SIGKILLed). A run started
by hand and adopted (agent/adopt.py, ``kind: "adopted"``) is running while its process tree
lives and then *ended*, its exit code unknown.
"""

import os
import re
import secrets
import subprocess
import time
from typing import Any, Dict, List, Optional, Tuple

from ..protocol import errors
from ..protocol.errors import AgentError
from ..protocol.messages import EXITED, LOST, RUNNING, STOPPED
from . import adoptproc, cgroups, slurm
from .files import CorruptFile, ensure_private_dir, read_json, write_json_atomic
from .procs import clean_env, is_same_process, marked_processes, process_table
from .runspec import with_run_id
from .shim import is_sealed
from .stopper import run_members

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


class RunStore:
    def __init__(self, root: str) -> None:
        self.root = ensure_private_dir(os.path.join(root, "runs"))
        self._shims: Dict[str, subprocess.Popen[bytes]] = {}
        # Summaries of ended runs, by the stat of the files they were read from (summary()).
        self._ended: Dict[str, Tuple[_Key, Dict[str, Any]]] = {}
        # Summaries of runs running because their job lives: the same, and the job's (pid,
        # start time), checked at each use.
        self._live: Dict[str, Tuple[_Key, Tuple[int, int], Dict[str, Any]]] = {}

    # ----- paths and lookups -------------------------------------------------------------
    def run_dir(self, run_id: str) -> str:
        if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
            raise AgentError(
                errors.UNKNOWN_RUN,
                f"no run {run_id!r} on this host",
                "list the runs with `rdt-tui runs HOST`",
            )
        path = os.path.join(self.root, run_id)
        if not os.path.isdir(path):
            raise AgentError(
                errors.UNKNOWN_RUN,
                f"no run {run_id!r} on this host",
                "list the runs with `rdt-tui runs HOST`",
            )
        return path

    def run_ids(self) -> List[str]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(
            n for n in names if _RUN_ID.match(n) and os.path.isdir(os.path.join(self.root, n))
        )

    def spec(self, run_id: str) -> Dict[str, Any]:
        spec = read_json(os.path.join(self.run_dir(run_id), "spec.json"))
        if not isinstance(spec, dict):
            raise CorruptFile(f"spec.json of run {run_id} is missing")
        return spec

    # ----- status ------------------------------------------------------------------------
    def scan(self) -> "Scan":
        """One look at the process table, for the membership of any number of runs."""
        return Scan(self)

    def members(self, run_id: str) -> List[int]:
        """Every live process of the run, found by all the means the OS gives."""
        return self.scan().members(run_id, self._state(run_id))

    def summary_state(self, run_id: str) -> Dict[str, Any]:
        """The run's state.json ({} when missing or damaged)."""
        return self._state(run_id)

    def _state(self, run_id: str) -> Dict[str, Any]:
        try:
            state = read_json(os.path.join(self.run_dir(run_id), "state.json"))
        except (CorruptFile, AgentError):
            return {}
        return state if isinstance(state, dict) else {}

    def summary(self, run_id: str, scan: Optional["Scan"] = None) -> Dict[str, Any]:
        """The run's status, read from its files and /proc; never raises for a corrupt file.

        A run that ended (exit.json sealed, its job and shim gone, none of its processes
        left) changes only if its files do: its summary is kept, keyed by their stat, so
        listing a thousand finished runs reads five stats each, not five files."""
        path = self.run_dir(run_id)
        key = _files_key(path)
        kept = self._ended.get(run_id)
        if kept is not None and kept[0] == key:
            return _copy(kept[1])
        live = self._live.get(run_id)
        if live is not None and live[0] == key and is_same_process(*live[1]):
            return _copy(live[2])  # the watcher's poll, every second: one /proc read
        settled: List[bool] = []
        job: List[Tuple[int, int]] = []
        out = self._summary(run_id, path, scan, settled, job)
        quiet = time.time() - max((k[0] for k in key if k), default=time.time()) > SETTLED_S
        if settled and quiet:
            self._ended[run_id] = (key, _copy(out))
        else:
            self._ended.pop(run_id, None)
        if job and quiet:
            self._live[run_id] = (key, job[0], _copy(out))
        else:
            self._live.pop(run_id, None)
        return out

    def _summary(
        self,
        run_id: str,
        path: str,
        scan: Optional["Scan"],
        settled: List[bool],
        job: List[Tuple[int, int]],
    ) -> Dict[str, Any]:
        """The summary from the files and /proc; ``settled`` gets True when only a change of
        the files can change it (the run ended here: no scheduler, no adopted tree, no job,
        shim or process of it alive, which no later look can find alive again); ``job`` gets
        the job's (pid, start time) when only a change of the files or the job's end can (it
        runs here, no exit record: the shim and the process table are not looked at)."""
        out: Dict[str, Any] = {"id": run_id, "status": LOST, "exit_code": None, "signal": None}
        problems: List[str] = []

        def load(name: str) -> Optional[Dict[str, Any]]:
            try:
                value = read_json(os.path.join(path, name))
            except CorruptFile as exc:
                problems.append(str(exc))
                return None
            return value if isinstance(value, dict) or value is None else None

        spec = load("spec.json") or {}
        state = load("state.json") or {}
        exit_info = load("exit.json")
        stop_info = load("stop.json")
        for key in ("name", "argv", "cwd", "gpus", "created_at", "profile", "group"):
            out[key] = spec.get(key)
        out["pid"] = state.get("pid")
        out["started_at"] = state.get("started_at") or spec.get("created_at")
        out["stop_requested"] = stop_info is not None
        out["held_by"] = state.get("held_by") or []
        if state.get("kind") == adoptproc.ADOPTED:  # started outside rdt-tui: agent/adopt.py
            out.update(adoptproc.summary(path, run_id, spec, state, scan or self.scan(), stop_info))
            return dict(out, error="; ".join(problems)) if problems else out
        job_alive = is_same_process(state.get("pid"), state.get("start_time"))
        shim_alive = is_same_process(state.get("shim_pid"), state.get("shim_start"))
        if exit_info is not None and not is_sealed(exit_info, spec.get("shim_key")):
            problems.append("exit.json was not written by the run's monitor; ignored")
            exit_info = None
        if exit_info is not None and job_alive:
            exit_info = None  # the kernel says the job runs, whatever a file says
        if spec.get("scheduler") == "slurm":  # the scheduler says, not this host's /proc
            return _slurm_summary(path, out, exit_info, stop_info, problems)
        pids: List[int] = []
        if (exit_info is None and not job_alive) or (exit_info is not None and shim_alive):
            # Only scan /proc when the job itself is gone: its workers may live on (the shim
            # outlives the job only while some process of the run is left).
            pids = (scan or self.scan()).members(run_id, state)
        out["pids"] = pids
        out.update(_log_health(path, problems))
        if exit_info is not None:
            out["status"] = STOPPED if stop_info is not None else EXITED
            out["exit_code"] = exit_info.get("code")
            out["signal"] = exit_info.get("signal")
            out["ended_at"] = exit_info.get("ended_at")
            if exit_info.get("error"):
                problems.append(str(exit_info["error"]))
            if pids:
                out["leftover"] = pids
                problems.append(
                    "{} process(es) of the run outlived it: {} (stop the run to end them)".format(
                        len(pids), ", ".join(str(p) for p in pids)
                    )
                )
        elif pids or job_alive or shim_alive:
            out["status"] = RUNNING
            if job_alive and not problems:
                job.append((state["pid"], state["start_time"]))
        elif not state and not problems and time.time() - (spec.get("created_at") or 0) < 10:
            out["status"] = RUNNING  # the shim is still starting the job
        if problems:
            out["error"] = "; ".join(problems)
        if exit_info is not None and not (pids or job_alive or shim_alive):
            settled.append(True)
        return out

    def summaries(self) -> List[Dict[str, Any]]:
        scan = _LazyScan(self)  # the process table is read only if a run needs it
        ids = self.run_ids()
        for gone in set(self._ended).difference(ids):  # removed from disk: forget it
            self._ended.pop(gone, None)  # (worker threads share the store)
        for gone in set(self._live).difference(ids):
            self._live.pop(gone, None)
        return [self.summary(run_id, scan) for run_id in ids]

    def live_runs(self) -> List[Dict[str, Any]]:
        return [s for s in self.summaries() if s["status"] == RUNNING]

    # ----- launch ------------------------------------------------------------------------
    def find_by_request_key(self, key: str) -> Optional[str]:
        for run_id in self.run_ids():
            try:
                if self.spec(run_id).get("request_key") == key:
                    return run_id
            except (CorruptFile, AgentError):
                continue
        return None

    def create(self, spec: Dict[str, Any]) -> str:
        base = _slug(spec.get("name") or os.path.basename(spec["argv"][0]) or "run")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for _ in range(1000):
            # A random tail: the id is also the processes' marker and the cgroup's name, and two
            # agents of one user (two state directories, or a home shared by several nodes) must
            # never give the same job name in the same second the same marker, or stopping one
            # run would reach the other's processes.
            run_id = f"{base}-{stamp}-{secrets.token_hex(2)}"
            path = os.path.join(self.root, run_id)
            try:
                os.mkdir(path, 0o700)
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - a thousand launches in one second
            raise AgentError(errors.INTERNAL, "could not allocate a run id")
        # The key that seals the shim's exit record: a file the job writes is not believed.
        spec = dict(
            with_run_id(spec, run_id),
            id=run_id,
            created_at=time.time(),
            shim_key=secrets.token_hex(16),
        )
        write_json_atomic(os.path.join(path, "spec.json"), spec)
        return run_id

    def start_shim(self, run_id: str, shim_cmd: List[str]) -> None:
        """Start the run's shim in a session of its own, with no run's marker in its
        environment. Its own stdout and stderr (a crash of the shim) go to ``shim.log``; the
        job's output reaches output.log through the shim's pipe."""
        path = self.run_dir(run_id)
        log = os.open(os.path.join(path, "shim.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self._shims[run_id] = subprocess.Popen(
                [*shim_cmd, "shim", path],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                cwd=path,
                env=clean_env(),
            )
        finally:
            os.close(log)

    def reap(self) -> None:
        """Collect shims that ended, so none lingers as a zombie of the daemon."""
        for run_id, proc in list(self._shims.items()):
            if proc.poll() is not None:
                del self._shims[run_id]

    def mark_stop(self, run_id: str, sig: int, grace: float) -> None:
        write_json_atomic(
            os.path.join(self.run_dir(run_id), "stop.json"),
            {"requested_at": time.time(), "signal": sig, "grace": grace},
        )


class Scan:
    """The process table and the markers, read once; which pids make up a run."""

    def __init__(self, store: RunStore) -> None:
        self.table = process_table()
        self.marked = marked_processes()
        # This process and the daemon (the same, unless a CLI or test looks), and below:
        # every run's shim. A daemon started from inside a run hangs below that run's shim.
        self.exclude = {os.getpid()}
        try:
            with open(os.path.join(os.path.dirname(store.root), "agent.pid")) as fh:
                self.exclude.add(int(fh.read().strip()))
        except (OSError, ValueError):
            pass
        for run_id in store.run_ids():
            state = store._state(run_id)
            shim = state.get("shim_pid")
            if isinstance(shim, int) and not state.get("slurm_node"):  # not a pid of ours
                self.exclude.add(shim)

    def members(self, run_id: str, state: Dict[str, Any]) -> List[int]:
        others = {p for r, ps in self.marked.items() if r != run_id for p in ps}
        if state.get("kind") == adoptproc.ADOPTED:  # no shim, marker nor cgroup: the tree
            return adoptproc.adopted_members(state, self.table, self.exclude | others)
        state = dict(state, cgroup=cgroups.of_run(state.get("cgroup"), run_id))
        return run_members(state, self.table, self.marked.get(run_id, []), self.exclude | others)


def _slurm_summary(
    path: str,
    out: Dict[str, Any],
    exit_info: Optional[Dict[str, Any]],
    stop_info: Optional[Dict[str, Any]],
    problems: List[str],
) -> Dict[str, Any]:
    if exit_info is not None:
        out.update({k: exit_info.get(k) for k in ("signal", "ended_at")})
        out["exit_code"] = exit_info.get("code")
    out.update(_log_health(path, problems))
    out = slurm.summarize(path, out, exit_info, stop_info is not None)
    if problems:
        out["error"] = "; ".join(problems + ([out["error"]] if out.get("error") else []))
    return out


class _LazyScan(Scan):
    """A :class:`Scan` that reads the process table at its first use, not before."""

    def __init__(self, store: RunStore) -> None:  # Scan.__init__ runs at the first use
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name == "_store":
            raise AttributeError(name)
        Scan.__init__(self, self._store)
        return getattr(self, name)


# What a run's summary is read from, and the stat that says it is unchanged.
SUMMARY_FILES = ("spec.json", "state.json", "exit.json", "stop.json", "shim.json")
# A file changed this recently may change again within the same tick of the file clock.
SETTLED_S = 2.0
_Key = Tuple[Optional[Tuple[float, int, int, int, int]], ...]


def _files_key(path: str) -> _Key:
    key: List[Optional[Tuple[float, int, int, int, int]]] = []
    for name in SUMMARY_FILES:
        try:
            st = os.stat(os.path.join(path, name))
        except OSError:
            key.append(None)
            continue
        key.append((st.st_mtime, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino))
    return tuple(key)


def _copy(summary: Dict[str, Any]) -> Dict[str, Any]:
    """A copy a caller may change without changing the kept one (lists copied too)."""
    return {k: list(v) if isinstance(v, list) else v for k, v in summary.items()}


def _log_health(run_dir: str, problems: List[str]) -> Dict[str, Any]:
    """What the shim reported about output.log: bytes dropped while the disk was full."""
    try:
        info = read_json(os.path.join(run_dir, "shim.json"))
    except CorruptFile:
        return {}  # caught mid-rewrite: the next look sees it whole
    if not isinstance(info, dict) or not info.get("dropped_bytes"):
        return {}
    if info.get("dropping"):
        problems.append("output is being dropped: the agent's state directory is full")
    else:
        problems.append(
            "{} bytes of output were dropped while the disk was full".format(info["dropped_bytes"])
        )
    return {"dropped_bytes": int(info["dropped_bytes"])}


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:40]
    return slug or "run"
