"""The per-run monitor: starts the job, waits for it, records how it ended.

The daemon starts one shim per run in a new session with stdout and stderr on the run's
``output.log``. The shim outlives the daemon, so the exit status is kept even while no daemon
runs; ``exit.json`` is written atomically, so a reader sees all of it or none.
"""

import os
import signal
import subprocess
import sys
import time
from typing import Any, Dict, List

from .files import read_json, write_json_atomic
from .procs import RUN_ENV, start_time


def _ignore(signum: int, frame: Any) -> None:
    # A handler rather than SIG_IGN: handlers reset on exec, so the job still gets its signals.
    pass


def run_shim(run_dir: str) -> int:
    spec: Dict[str, Any] = read_json(os.path.join(run_dir, "spec.json")) or {}
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, _ignore)
    env = dict(os.environ)
    env.update({str(k): str(v) for k, v in (spec.get("env") or {}).items()})
    env[RUN_ENV] = str(spec["id"])
    env["PYTHONUNBUFFERED"] = "1"
    argv: List[str] = [str(a) for a in spec["argv"]]
    state: Dict[str, Any] = {"shim_pid": os.getpid(), "shim_start": start_time(os.getpid())}
    try:
        proc = subprocess.Popen(
            argv, cwd=spec.get("cwd") or None, env=env, stdin=subprocess.DEVNULL, close_fds=True
        )
    except OSError as exc:
        message = f"cannot start {argv[0]}: {exc.strerror or exc}"
        sys.stderr.write("[rdt-tui] " + message + "\n")
        state.update({"pid": None, "start_time": None, "started_at": time.time()})
        write_json_atomic(os.path.join(run_dir, "state.json"), state)
        write_json_atomic(
            os.path.join(run_dir, "exit.json"),
            {"code": 127, "signal": None, "ended_at": time.time(), "error": message},
        )
        return 127
    state.update({"pid": proc.pid, "start_time": start_time(proc.pid), "started_at": time.time()})
    write_json_atomic(os.path.join(run_dir, "state.json"), state)
    code = proc.wait()
    # Killed by a signal: report it, and the exit code a shell would show (128 + signal).
    killed_by = -code if code < 0 else None
    write_json_atomic(
        os.path.join(run_dir, "exit.json"),
        {
            "code": code if killed_by is None else 128 + killed_by,
            "signal": killed_by,
            "ended_at": time.time(),
        },
    )
    return 0
