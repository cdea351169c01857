"""A launch request checked and made a run spec: the command, its directory, environment,
GPUs, metric format and sources, checkpoint paths; and the ``{run_id}`` placeholder filled once
the run has an id. Every refusal is an AgentError saying what to change."""

import glob
import os
import shutil
from typing import Any, Dict, List, Optional

from ..core.formats import FORMATS
from ..protocol import errors
from ..protocol.errors import AgentError


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
    unseen = resume_missing(args.get("resume"), spec["cwd"], spec["checkpoint_dir"])
    if unseen is not None and args.get("scheduler") != "slurm":
        raise unseen
    if unseen is not None:  # the compute node may see a disk the login node does not
        warnings.append(f"{unseen.message} on the login node; the job looks on its node")
    if warnings:
        spec["warnings"] = warnings
    spec["log_files_before"] = log_files_now(spec["cwd"], spec["log_files"])
    return spec


def log_files_now(cwd: str, patterns: List[str]) -> Dict[str, List[float]]:
    """``[mtime, size]`` of each file the launch's ``log_files`` globs match, taken before the
    job starts: the past (a previous run's log), which the run's watcher skips while it stays
    as it was and reads from that size if the run appends to it (agent/watch.py). Taken at
    the watcher's first look instead, once the job was running, a job that wrote within that
    moment (a busy node) had its new log taken for the past, or an old one read from 0."""
    found: Dict[str, List[float]] = {}
    for pattern in patterns:
        for path in glob.glob(os.path.join(cwd, os.path.expanduser(pattern))):
            try:
                st = os.stat(path)
            except OSError:
                continue  # gone between the glob and now
            found[path] = [st.st_mtime, st.st_size]
    return found


# RDT's trainer (and the demo's) takes this word for "the newest checkpoint, if any".
RESUME_WORDS = ("latest",)


def resume_missing(resume: Any, cwd: str, checkpoint_dir: str) -> Optional[AgentError]:
    """Why the checkpoint a launch resumes from cannot be found on this node, or None.
    Looked for where trainers look: the path as given (``~`` this node's home; a relative
    one under the run's cwd), and under the checkpoint directory by the path or by its last
    name (RDT joins the name with its ``--output_dir``). Refused here, a missing checkpoint
    would otherwise launch and fail only once the trainer gets to it, seconds later."""
    if not isinstance(resume, str) or not resume or resume in RESUME_WORDS:
        return None
    places = [node_path(cwd, resume)]
    if not os.path.isabs(os.path.expanduser(resume)):
        name = os.path.basename(resume.rstrip("/"))
        places += [node_path(checkpoint_dir, resume), node_path(checkpoint_dir, name)]
    places = list(dict.fromkeys(places))
    if any(os.path.exists(p) for p in places):
        return None
    return AgentError(
        errors.BAD_REQUEST,
        f"checkpoint {resume} does not exist"
        + ("" if places == [resume] else " (looked for " + ", ".join(places) + ")"),
        "give a checkpoint that is on the host: `rdt-tui checkpoints HOST RUN` lists a run's",
    )


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
