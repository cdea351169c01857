"""The soak: a job doing the nasty things at once (tests/jobs/nasty.py) for a while, followed by
a console in tmux and a CLI `logs --follow`, while the daemon's descriptors, memory and
answers are sampled every second. Shared by tests/test_soak.py (asserts) and
benchmarks/soak_figures.py (prints the figures)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from rdt_tui.core.metrics import parse_text

JOB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jobs", "nasty.py")


@dataclass
class Sample:
    t: float
    fds: int
    rss_kib: int
    answer_s: float  # how long a `runs` request took (inf: no answer within the bound)


@dataclass
class SoakResult:
    run: str
    samples: list[Sample] = field(default_factory=list)
    escaped: list[int] = field(default_factory=list)
    left_after_stop: list[int] = field(default_factory=list)
    stop_status: dict[str, Any] = field(default_factory=dict)
    points: dict[tuple[str, Any], float] = field(default_factory=dict)
    reference: dict[tuple[str, Any], float] = field(default_factory=dict)
    reference_side: dict[tuple[str, Any], float] = field(default_factory=dict)
    follow_rc: int | None = None
    follow_bytes: int = 0
    follow_last_step: int = -1
    log_last_step: int = -1
    console_alive: bool = False
    console_screen: str = ""


def _env(state_dir: str, workdir: str) -> dict[str, str]:
    return dict(
        os.environ,
        RDT_TUI_STATE_DIR=state_dir,
        RDT_TUI_DATA_DIR=workdir,
        RDT_TUI_CONFIG_DIR=os.path.join(workdir, "cfg"),
    )


def _cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _daemon_pid(state_dir: str) -> int:
    with open(os.path.join(state_dir, "agent.pid")) as fh:
        return int(fh.read().strip())


def _fds_rss(pid: int) -> tuple[int, int]:
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss = 0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return fds, rss


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _key_points(points: list[dict[str, Any]]) -> dict[tuple[str, Any], float]:
    """(name, step) -> value, the newest seq winning (a step repainted replaces its point)."""
    out: dict[tuple[str, Any], float] = {}
    for p in sorted(points, key=lambda p: p.get("seq", 0)):
        out[(p["name"], p["step"])] = float(p["value"])  # "nan" and "inf" arrive as text
    return out


def _ref(path: str) -> dict[tuple[str, Any], float]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    return {(p.name, p.step): float(p.value) for p in parse_text(text)}


def _last_step(path: str) -> int:
    """The newest `step=N loss=` line of a file: the job's own lines, not the dumps."""
    last = -1
    with open(path, "rb") as fh:
        for m in re.finditer(rb"(?m)^step=(\d+) loss=", fh.read()):
            last = int(m.group(1))
    return last


def soak(state_dir: str, workdir: str, seconds: float, names: int = 500) -> SoakResult:
    env = _env(state_dir, workdir)
    pids_file = os.path.join(workdir, "escaped.pids")
    launched = _cli(
        env,
        "launch",
        "localhost",
        "--cwd",
        workdir,
        "--name",
        "soak",
        "--log-file",
        "train.log",
        "--json",
        "--",
        sys.executable,
        JOB,
        str(seconds + 600),  # the job outlives the soak: stop ends it
        str(names),
        pids_file,
        str(seconds / 2),  # the side log is copy-truncated halfway through the soak
    )
    assert launched.returncode == 0, launched.stderr
    run = json.loads(launched.stdout)["run"]
    result = SoakResult(run=run)
    follow_out = open(os.path.join(workdir, "follow.out"), "wb")  # noqa: SIM115
    follow = subprocess.Popen(
        [sys.executable, "-m", "rdt_tui.cli", "logs", "localhost", run, "--follow"],
        stdout=follow_out,
        stderr=subprocess.STDOUT,
        env=env,
    )
    sock = os.path.join(workdir, "tmux.sock")
    tmux = shutil.which("tmux")
    if tmux:
        exports = " ".join(
            f"{k}={env[k]}" for k in ("RDT_TUI_STATE_DIR", "RDT_TUI_DATA_DIR", "RDT_TUI_CONFIG_DIR")
        )
        console = f"{exports} {sys.executable} -m rdt_tui.cli watch localhost {run}; sleep 600"
        subprocess.run(
            [tmux, "-S", sock, "new-session", "-d", "-s", "soak", "-x", "120", "-y", "40", console],
            check=True,
            timeout=30,
        )
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                out = _cli(env, "runs", "localhost", "--json", timeout=30)
                answer = time.monotonic() - t0 if out.returncode == 0 else float("inf")
            except subprocess.TimeoutExpired:
                answer = float("inf")
            pid = _daemon_pid(state_dir)
            fds, rss = _fds_rss(pid)
            result.samples.append(Sample(time.monotonic(), fds, rss, answer))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
        with open(pids_file) as fh:
            result.escaped = [int(p) for p in fh.read().split()]
        if tmux:
            screen = subprocess.run(
                [tmux, "-S", sock, "capture-pane", "-p", "-t", "soak"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout
            result.console_screen = screen
            panes = subprocess.run(
                [tmux, "-S", sock, "list-panes", "-t", "soak", "-F", "#{pane_current_command}"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout
            # Still the console (python), not the `sleep` that follows its exit.
            result.console_alive = "sleep" not in panes and "Traceback" not in screen
        stopped = _cli(env, "stop", "localhost", run, "--grace", "3", "--json", timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        result.stop_status = json.loads(stopped.stdout)
        end = time.monotonic() + 30
        while time.monotonic() < end and any(_alive(p) for p in result.escaped):
            time.sleep(0.2)
        result.left_after_stop = [p for p in result.escaped if _alive(p)]
        try:
            result.follow_rc = follow.wait(timeout=60)
        except subprocess.TimeoutExpired:
            result.follow_rc = None
        metrics = _cli(env, "metrics", "localhost", run, "--json", timeout=120)
        assert metrics.returncode == 0, metrics.stderr
        result.points = _key_points(json.loads(metrics.stdout))
        run_dir = os.path.join(state_dir, "runs", run)
        result.reference = _ref(os.path.join(run_dir, "output.log"))
        result.reference_side = _ref(os.path.join(workdir, "train.full.log"))
        result.follow_bytes = os.path.getsize(os.path.join(workdir, "follow.out"))
        result.follow_last_step = _last_step(os.path.join(workdir, "follow.out"))
        result.log_last_step = _last_step(os.path.join(run_dir, "output.log"))
    finally:
        if follow.poll() is None:
            follow.kill()
        follow_out.close()
        if tmux:
            subprocess.run([tmux, "-S", sock, "kill-server"], capture_output=True, timeout=30)
        for pid in result.escaped:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    return result
