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
import shutil
import subprocess
import time
from typing import Any, Dict, List, Optional

from ..core.formats import FORMATS
from ..protocol import errors
from ..protocol.errors import AgentError
from . import adoptproc, cgroups, slurm
from .files import CorruptFile, ensure_private_dir, read_json, write_json_atomic
from .procs import clean_env, is_same_process, marked_processes, process_table
from .shim import is_sealed
from .stopper import run_members

RUNNING, EXITED, STOPPED, LOST = "running", "exited", "stopped", "lost"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


class RunStore:
    def __init__(self, root: str) -> None:
        self.root = ensure_private_dir(os.path.join(root, "runs"))
        self._shims: Dict[str, subprocess.Popen[bytes]] = {}

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
        """The run's status, read from its files and /proc; never raises for a corrupt file."""
        path = self.run_dir(run_id)
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
        elif not state and not problems and time.time() - (spec.get("created_at") or 0) < 10:
            out["status"] = RUNNING  # the shim is still starting the job
        if problems:
            out["error"] = "; ".join(problems)
        return out

    def summaries(self) -> List[Dict[str, Any]]:
        scan = self.scan()
        return [self.summary(run_id, scan) for run_id in self.run_ids()]

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


def metric_format_of(args: Dict[str, Any]) -> str:
    """The request's metric format (default ``auto``), refused when no parser knows it."""
    metric_format = str(args.get("metric_format") or "auto")
    if metric_format not in FORMATS:
        raise AgentError(
            errors.BAD_REQUEST,
            f"unknown metric format {metric_format!r}",
            "use one of " + ", ".join(sorted(FORMATS)),
        )
    return metric_format


def validate_launch(args: Dict[str, Any]) -> Dict[str, Any]:
    """A launch request checked and normalised into a run spec, or an AgentError saying why."""
    argv = args.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise AgentError(
            errors.BAD_COMMAND,
            "no command to run",
            "give the command after `--`, e.g. `rdt-tui launch HOST -- python train.py`",
        )
    cwd = args.get("cwd") or os.path.expanduser("~")
    if not isinstance(cwd, str):
        raise AgentError(errors.BAD_CWD, "the working directory must be a path")
    cwd = os.path.expanduser(cwd)
    if not os.path.isdir(cwd):
        raise AgentError(
            errors.BAD_CWD,
            f"working directory {cwd} does not exist",
            "create it or pass an existing one with --cwd",
        )
    env = args.get("env") or {}
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise AgentError(errors.BAD_REQUEST, "env must map names to strings")
    program = argv[0]
    missing: Optional[AgentError] = None
    if "/" in program:
        full = program if os.path.isabs(program) else os.path.join(cwd, program)
        if not (os.path.isfile(full) and os.access(full, os.X_OK)):
            missing = AgentError(
                errors.BAD_COMMAND,
                f"{full} is not an executable file",
                "check the path, or `chmod +x` it",
            )
    else:
        search = env.get("PATH") or os.environ.get("PATH", os.defpath)
        if shutil.which(program, path=search) is None:
            missing = AgentError(
                errors.BAD_COMMAND,
                f"command not found: {program}",
                "use the full path of the program, or set PATH in the profile's env",
            )
    warnings: List[str] = []
    if missing is not None and args.get("scheduler") != "slurm":
        raise missing
    if missing is not None:  # a compute node may have it (modules); the job's log will say
        warnings.append(f"{missing.message} on the login node; the job looks on its node")
    gpus = args.get("gpus")
    if gpus is None and env.get("CUDA_VISIBLE_DEVICES"):
        gpus = [g for g in env["CUDA_VISIBLE_DEVICES"].split(",") if g.strip()]
    if gpus is not None:
        if not isinstance(gpus, list):
            raise AgentError(errors.BAD_REQUEST, "gpus must be a list of GPU indices")
        gpus = [str(g).strip() for g in gpus]
    metric_format = metric_format_of(args)
    spec: Dict[str, Any] = {
        "argv": argv,
        "metric_format": metric_format,
        "profile": str(args.get("profile") or "") or None,  # which profile made it (resume)
        "group": str(args.get("group") or "") or None,  # the multi-node job it is a node of
        "cwd": os.path.abspath(cwd),
        "env": env,
        "gpus": gpus,
        "name": str(args.get("name") or ""),
        "log_files": [str(p) for p in (args.get("log_files") or [])],
        "event_files": [str(p) for p in (args.get("event_files") or [])],
        "metric_source": metric_source_of(args.get("metric_source")),
        "checkpoint_dir": node_path(cwd, str(args.get("checkpoint_dir") or ".")),
        "checkpoint_globs": [str(g) for g in (args.get("checkpoint_globs") or [])],
        "request_key": args.get("request_key"),
        "stop_signal": str(args.get("stop_signal") or "SIGINT"),
        "alerts": args["alerts"] if isinstance(args.get("alerts"), dict) else None,  # [alerts]
    }
    if warnings:
        spec["warnings"] = warnings
    return spec


RUN_ID_PLACEHOLDER = "{run_id}"


def with_run_id(spec: Dict[str, Any], run_id: str) -> Dict[str, Any]:
    """``{run_id}`` in the argv, the environment's values and the checkpoint directory made
    the run's id: an output folder of its own per run (the demo's), known only once the id
    is."""

    def fill(text: str) -> str:
        return text.replace(RUN_ID_PLACEHOLDER, run_id)

    out = dict(spec)
    out["argv"] = [fill(a) for a in spec.get("argv") or []]
    out["env"] = {k: fill(v) for k, v in (spec.get("env") or {}).items()}
    if spec.get("checkpoint_dir"):
        out["checkpoint_dir"] = fill(str(spec["checkpoint_dir"]))
    return out


def metric_source_of(value: Any) -> Any:
    """``metric_source``: "events" or "log", or a table of them per name (``default`` for the
    rest); which source feeds a name that both the log and the event files give."""
    if value is None:
        return "events"
    table = value if isinstance(value, dict) else {"default": value}
    bad = [f"{k} = {v!r}" for k, v in table.items() if v not in ("events", "log")]
    if bad:
        raise AgentError(
            errors.BAD_REQUEST,
            f"metric_source: {', '.join(bad)}",
            'use "events" or "log", or a table of them per name '
            '(metric_source = { default = "events", loss = "log" })',
        )
    return value


def node_path(cwd: str, path: str) -> str:
    """A profile's path as the node sees it: ``~`` is this node's home (the console must not
    expand it with its own), and a relative path is under the run's cwd (so ``--cwd``
    moves the checkpoints with it)."""
    return os.path.abspath(os.path.join(os.path.abspath(cwd), os.path.expanduser(path)))


def gpus_overlap(a: Optional[List[str]], b: Optional[List[str]], host_gpus: List[str]) -> List[str]:
    """GPUs two runs share; None means every GPU of the host."""
    set_a = set(host_gpus if a is None else a)
    set_b = set(host_gpus if b is None else b)
    return sorted(set_a & set_b)


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:40]
    return slug or "run"
