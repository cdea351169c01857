"""Runs under Slurm: submit a batch script, read the job's state, stop it the way Slurm expects.

The job never depends on us: its batch script execs our shim (on the shared filesystem), which
runs the command from spec.json and writes output.log, state.json and a sealed exit.json into
the run's directory as for a local run, so logs, metrics and checkpoints stream as usual. The
scheduler is the truth while it knows the job (``scontrol show job``); once the job has aged
out of slurmctld, ``sacct`` where the cluster keeps accounting (slurm_acct.py), else the shim's
exit record and the last state we saw (``slurm.json``) say how it ended.
Standard library only; every command is an argv list with a bound on its time.
"""

import os
import re
import shutil
import signal
import subprocess
import time
from typing import Any, Dict, List, Optional, Tuple

from ..core.slurm_script import (
    SlurmOptionError,
    batch_script,
    check_options,
    sbatch_argv,
    task_argv,
)
from ..protocol import errors
from ..protocol.errors import AgentError
from ..protocol.messages import LIVE_STATES
from . import slurm_acct
from .files import CorruptFile, read_json, write_json_atomic

CMD_TIMEOUT_S = 30.0
# How long one `scontrol show job` answer serves every look at the run (each watcher polls
# its run's status): slurmctld is shared by the whole cluster, and a queue wait is long.
CACHE_S = 2.0
PENDING_CACHE_S = 10.0
KILL_WAIT_S = 60.0  # after the plain scancel: Slurm's KillWait plus the epilog, bounded

# Slurm's job state -> our run status (None: decided by the shim's record)
STATES = {
    "PENDING": "pending",
    "CONFIGURING": "running",
    "RUNNING": "running",
    "COMPLETING": "running",
    "SUSPENDED": "running",
    "RESIZING": "running",
    "SIGNALING": "running",
    "STAGE_OUT": "running",
    "COMPLETED": "exited",
    "FAILED": "failed",
    "OUT_OF_MEMORY": "failed",
    "BOOT_FAIL": "failed",
    "CANCELLED": "stopped",
    "TIMEOUT": "timeout",
    "DEADLINE": "timeout",
    "PREEMPTED": "preempted",
    "NODE_FAIL": "node_fail",
    "REQUEUED": "requeued",
    "REQUEUE_HOLD": "requeued",
    "REQUEUE_FED": "requeued",
}

_cache: Dict[str, Tuple[float, Optional[Dict[str, str]]]] = {}


def available() -> bool:
    return shutil.which("sbatch") is not None


def _run(argv: List[str], timeout: float = CMD_TIMEOUT_S) -> Tuple[int, str, str]:
    try:
        out = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",  # a job's name or path in bytes of another encoding
            timeout=timeout,
        )
    except FileNotFoundError:
        return 127, "", f"{argv[0]} not found on this host"
    except subprocess.TimeoutExpired:
        return 124, "", f"{argv[0]} did not answer within {timeout:.0f} s"
    return out.returncode, out.stdout, out.stderr.strip()


# ----- submit ----------------------------------------------------------------------------
def prepare(spec: Dict[str, Any], shim_cmd: List[str]) -> Dict[str, Any]:
    """The spec of a Slurm run: its [slurm] table checked, the command one srun task per
    node when there are several (the job's own argv is kept as ``command``)."""
    if not available():
        raise AgentError(
            errors.BAD_REQUEST,
            'this host has no sbatch: the profile says scheduler = "slurm"',
            "launch on the cluster's login node, or drop `scheduler` from the profile",
        )
    try:
        table = check_options(spec.get("slurm") or {})
    except SlurmOptionError as exc:
        raise AgentError(errors.BAD_REQUEST, str(exc), "fix the profile's [slurm] table") from None
    nodes = int(table.get("nodes", 1))
    resume = _resume_of(spec) if table.get("requeue") else None
    return dict(
        spec,
        slurm=table,
        command=spec["argv"],
        argv=task_argv(nodes, shim_cmd, spec["argv"], resume),
    )


def _resume_of(spec: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """How a requeued attempt resumes: the profile's resume_args, where they go, and where
    the checkpoints are (None when the profile cannot resume)."""
    given = spec.get("slurm_resume")
    if not isinstance(given, dict) or not isinstance(given.get("args"), list):
        return None
    index = given.get("index")
    return {
        "args": [str(a) for a in given["args"]],
        "index": index if isinstance(index, int) and not isinstance(index, bool) else None,
        "checkpoint_dir": spec.get("checkpoint_dir") or spec.get("cwd"),
        "globs": list(spec.get("checkpoint_globs") or []),
    }


def submit(run_dir: str, spec: Dict[str, Any], shim_cmd: List[str]) -> str:
    """Write job.sbatch and submit it; the job id, or an AgentError with sbatch's words."""
    script = batch_script(spec["slurm"], shim_cmd, run_dir, spec.get("name") or spec.get("id"))
    path = os.path.join(run_dir, "job.sbatch")
    with open(path, "w") as fh:
        fh.write(script)
    code, out, err = _run(sbatch_argv(path, run_dir, spec["cwd"]))
    job_id = out.strip().split(";")[0]
    if code != 0 or not job_id.isdigit():
        raise AgentError(
            errors.BAD_REQUEST,
            "sbatch refused the job: " + (err or out.strip() or f"exit status {code}"),
            "fix the profile's [slurm] table (see `sinfo` for partitions and limits)",
        )
    write_json_atomic(
        os.path.join(run_dir, "slurm.json"), {"job_id": job_id, "submitted_at": time.time()}
    )
    return job_id


# ----- the job's state -------------------------------------------------------------------
def parse_show_job(text: str) -> Dict[str, str]:
    """``scontrol show job -o`` as a dict (a value with spaces keeps its words)."""
    fields: Dict[str, str] = {}
    last = None
    for word in text.strip().split(" "):
        key, eq, value = word.partition("=")
        if eq and re.match(r"^[A-Za-z][A-Za-z0-9/:_]*$", key) and key not in fields:
            fields[key] = value
            last = key
        elif last is not None:
            fields[last] += " " + word
    return fields


def job_info(job_id: str) -> Optional[Dict[str, str]]:
    """The job as slurmctld knows it, None once it is gone (cached for a second)."""
    now = time.monotonic()
    hit = _cache.get(job_id)
    pending = hit is not None and (hit[1] or {}).get("JobState") == "PENDING"
    if hit and now - hit[0] < (PENDING_CACHE_S if pending else CACHE_S):
        return hit[1]
    code, out, err = _run(["scontrol", "show", "job", "-o", job_id], timeout=10)
    info: Optional[Dict[str, str]] = None
    if code == 0 and out.strip():
        info = parse_show_job(out.splitlines()[0])
    elif "Invalid job id" not in err:
        info = {"JobState": "UNKNOWN", "Reason": err or "scontrol failed"}
    else:  # slurmctld forgot it: accounting, where the cluster keeps it, knows how it ended
        acct = slurm_acct.job_info(job_id, _run)
        # A live state there (slurmdbd lags) is no end: the shim's record will say it
        if acct is not None and STATES.get(acct["JobState"], "lost") not in LIVE_STATES:
            info = acct
    _cache[job_id] = (now, info)
    return info


def forget(job_id: str) -> None:
    _cache.pop(job_id, None)


def _slurm_record(run_dir: str) -> Dict[str, Any]:
    try:
        rec = read_json(os.path.join(run_dir, "slurm.json"))
    except CorruptFile:
        return {}
    return rec if isinstance(rec, dict) else {}


def job_of(run_dir: str) -> Optional[str]:
    job = _slurm_record(run_dir).get("job_id")
    return str(job) if job else None


def summarize(
    run_dir: str, out: Dict[str, Any], exit_info: Optional[Dict[str, Any]], stopped: bool
) -> Dict[str, Any]:
    """``out`` (the run's summary so far) with the status Slurm and the shim give."""
    rec = _slurm_record(run_dir)
    job_id = rec.get("job_id")
    out["slurm_job_id"] = job_id
    out["pids"] = []
    known = str((rec.get("last") or {}).get("state") or "")
    # A job seen ended (or gone from slurmctld) stays so: no scontrol per look at old runs
    settled = rec.get("gone") or STATES.get(known, "pending") not in LIVE_STATES
    info = job_info(str(job_id)) if job_id and not settled else None
    if job_id and info is None and not settled:
        rec["gone"] = True
        try:
            write_json_atomic(os.path.join(run_dir, "slurm.json"), rec)
        except OSError:
            pass
    if info is not None and info.get("JobState") != "UNKNOWN":
        seen = {
            "state": info.get("JobState", ""),
            "reason": info.get("Reason", ""),
            "nodes": info.get("NodeList", ""),
            "restarts": _int(info.get("Restarts")),
            "exit": info.get("ExitCode", ""),
            "start": info.get("StartTime", ""),
            "time_limit": info.get("TimeLimit", ""),
        }
        if any(rec.get("last", {}).get(k) != v for k, v in seen.items()):
            rec["last"] = seen
            try:
                write_json_atomic(os.path.join(run_dir, "slurm.json"), rec)
            except OSError:
                pass  # a full disk: the next look writes it
    elif info is not None:
        out["error"] = "Slurm did not answer: " + info.get("Reason", "")
    last = rec.get("last") or {}
    state = str(last.get("state") or "")
    status = STATES.get(state, "pending" if not state else "lost")
    live = info is not None and status in LIVE_STATES
    if not live and exit_info is not None and status in ("exited", "failed", "running", "lost"):
        # The shim's sealed record: the exact exit code of the job
        status = "stopped" if stopped else "exited"
    if info is None and status in LIVE_STATES:
        status = "lost" if exit_info is None else ("stopped" if stopped else "exited")
    if live:  # an earlier attempt's exit record says nothing of this one
        out.update(exit_code=None, signal=None, ended_at=None)
    if status == "exited" and exit_info is None:
        code = _exit_code(last.get("exit"))
        out["exit_code"] = code
    out["status"] = status
    out["slurm_state"] = state or "SUBMITTED"
    out["slurm_reason"] = last.get("reason") if last.get("reason") not in ("None", "") else None
    out["nodes"] = last.get("nodes") if last.get("nodes") not in ("(null)", "") else None
    out["restarts"] = last.get("restarts") or 0
    out["time_limit"] = last.get("time_limit") or None
    limit = duration_s(str(last.get("time_limit") or ""))
    ran = duration_s(str((info or {}).get("RunTime") or ""))
    if status == "running" and live and limit is not None and ran is not None:
        out["time_left"] = max(0.0, limit - ran)  # the time-limit alert reads it
    start = last.get("start")
    out["expected_start"] = (
        start if status == "pending" and start not in (None, "", "Unknown") else None
    )
    if status == "failed" and exit_info is None:
        out["exit_code"] = _exit_code(last.get("exit"))
    words = _why(run_dir, str(job_id), status, state, exit_info, stopped)
    if words:
        out["error"] = "; ".join(x for x in (out.get("error"), words) if x)
    return out


def _why(
    run_dir: str,
    job_id: str,
    status: str,
    state: str,
    exit_info: Optional[Dict[str, Any]],
    stopped: bool,
) -> str:
    """What the user needs to know of an end the shim did not record."""
    if status == "stopped" and not stopped:
        return "the job was cancelled outside rdt-tui (scancel, or an administrator)"
    if status in ("timeout", "node_fail", "preempted") and exit_info is None:
        return f"Slurm ended the job: {state}"
    if status in ("failed", "lost") and exit_info is None:
        tail = _tail(os.path.join(run_dir, f"slurm-{job_id}.out"))
        where = f"; Slurm's output file says: {tail}" if tail else ""
        return f"the job ended before our monitor could record it ({state or 'gone'}){where}"
    return ""


def _tail(path: str, limit: int = 400) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - limit))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return " | ".join(line for line in text.splitlines() if line.strip())[-limit:]


def duration_s(text: str) -> Optional[float]:
    """Slurm's ``[D-]HH:MM:SS`` (or ``MM:SS``) in seconds; None for UNLIMITED and the like."""
    days, _, rest = text.rpartition("-") if "-" in text else ("", "", text)
    parts = rest.split(":")
    if not rest or len(parts) > 3 or not all(p.isdigit() for p in parts):
        return None
    seconds = 0
    for p in parts:
        seconds = seconds * 60 + int(p)
    if len(parts) == 2 and not days:
        seconds = int(parts[0]) * 60 + int(parts[1])
    return float(seconds + (int(days) * 86400 if days.isdigit() else 0))


def _int(text: Optional[str]) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def _exit_code(text: Any) -> Optional[int]:
    try:
        return int(str(text).split(":")[0])
    except (TypeError, ValueError):
        return None


# ----- stop ------------------------------------------------------------------------------
def signal_job(job_id: str, sig: str = "INT") -> str:
    """SIG to every process of the job: ``scancel --signal=SIG --full`` reaches the batch step
    (a one-node job's command runs there), and a plain ``scancel --signal=SIG`` its srun steps
    (the tasks of a multi-node job: Slurm 22.05's --full signals the batch step only)."""
    code, _out, err = _run(["scancel", f"--signal={sig}", "--full", job_id])
    _run(["scancel", f"--signal={sig}", job_id])  # no steps (one node): nothing to say
    forget(job_id)
    return "" if code == 0 else err


def cancel(job_id: str) -> str:
    code, _out, err = _run(["scancel", job_id])
    forget(job_id)
    return "" if code == 0 else err


def stop_signal_name(spec: Dict[str, Any]) -> str:
    name = str(spec.get("stop_signal") or "SIGINT").upper()
    name = name[3:] if name.startswith("SIG") else name
    return name if hasattr(signal, "SIG" + name) else "INT"


# ----- the queue -------------------------------------------------------------------------
QUEUE_FORMAT = "%i|%j|%T|%r|%M|%D|%N|%S"
NO_CLUSTER_HINT = (
    "this host is not in a Slurm cluster: ask the cluster's login node (rdt-tui queue LOGIN)"
)


def queue(user: str) -> List[Dict[str, Any]]:
    code, out, err = _run(["squeue", "-h", f"--user={user}", "-o", QUEUE_FORMAT])
    if code == 127:  # no Slurm here at all
        raise AgentError(errors.BAD_REQUEST, err, NO_CLUSTER_HINT)
    if code != 0 and "configuration source" in err:  # its commands, but no slurm.conf
        raise AgentError(
            errors.BAD_REQUEST,
            "squeue is here but finds no Slurm configuration (slurm.conf, SLURM_CONF)",
            NO_CLUSTER_HINT,
        )
    if code != 0:
        raise AgentError(errors.BAD_REQUEST, "squeue failed: " + err, "check Slurm on this host")
    jobs = []
    for line in out.splitlines():
        job_id, _, rest = line.partition("|")
        parts = [job_id, *rest.rsplit("|", 6)]  # the name (the user's words) may hold a "|"
        if len(parts) != 8:
            continue
        jobs.append(
            {
                "job_id": parts[0],
                "name": parts[1],
                "state": parts[2],
                "reason": parts[3],
                "time": parts[4],
                "nodes": _int(parts[5]),
                "nodelist": parts[6],
                "start": parts[7],
            }
        )
    return jobs
