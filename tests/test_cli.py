"""The headless CLI as a user runs it: real subprocesses, JSON out, errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rdt(state_dir: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RDT_TUI_STATE_DIR=state_dir)
    return subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


def rdt_json(state_dir: str, *args: str) -> Any:
    cut = args.index("--") if "--" in args else len(args)
    out = rdt(state_dir, *args[:cut], "--json", *args[cut:])
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_launch_status_metrics_logs_stop_round_trip(state_dir: str, workdir: str) -> None:
    hostile = 'it\'s "$(touch /tmp/pwned)" `id`; echo ñ\nnext'
    code = (
        "import sys, time\nprint(repr(sys.argv[1]))\n"
        "for i in range(1, 4): print(f'step={i} loss={1/i:.3f}', flush=True)\n"
        "time.sleep(60)\n"
    )
    launched = rdt_json(
        state_dir,
        "launch",
        "localhost",
        "--cwd",
        workdir,
        "--name",
        "cli",
        "--",
        sys.executable,
        "-c",
        code,
        hostile,
    )
    run = launched["run"]
    assert run.startswith("cli-")
    deadline = time.monotonic() + 60
    while (
        len([p for p in rdt_json(state_dir, "metrics", "localhost", run) if p["name"] == "loss"])
        < 3
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    points = rdt_json(state_dir, "metrics", "localhost", run)
    assert [(p["name"], p["value"], p["step"]) for p in points] == [
        ("loss", 1.0, 1),
        ("loss", 0.5, 2),
        ("loss", 0.333, 3),
    ]
    assert rdt_json(state_dir, "status", "localhost", run)["status"] == "running"
    logs = rdt(state_dir, "logs", "localhost", run, "--tail", "10")
    assert repr(hostile) in logs.stdout  # the argument arrived unchanged
    assert not os.path.exists("/tmp/pwned")
    stopped = rdt_json(state_dir, "stop", "localhost", run, "--grace", "2")
    assert stopped["status"] == "stopped"
    final = rdt_json(state_dir, "status", "localhost", run)
    assert final["status"] == "stopped" and final["exit_code"] is not None
    assert any(r["id"] == run for r in rdt_json(state_dir, "runs", "localhost"))
    listing = rdt_json(state_dir, "checkpoints", "localhost", run)
    assert listing["checkpoints"] == [] and listing["directory"] == workdir


def test_errors_exit_non_zero_with_a_message_and_no_traceback(state_dir: str, workdir: str) -> None:
    cases = [
        ("status", "localhost", "nope-1"),
        ("launch", "localhost", "--cwd", os.path.join(workdir, "missing"), "--", "true"),
        ("launch", "localhost", "--", "no-such-binary-abc"),
        ("launch", "localhost"),
        ("runs", "gpu-node.internal"),
        ("launch", "localhost", "--profile", "no-such-profile"),
    ]
    for args in cases:
        out = rdt(state_dir, *args)
        assert out.returncode != 0, args
        assert out.stderr.startswith("rdt-tui: error: "), (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_gpus_without_a_driver_says_so_and_simulation_is_labelled(state_dir: str) -> None:
    plain = rdt(state_dir, "gpus", "localhost")
    assert plain.returncode == 0, plain.stderr
    sample = rdt_json(state_dir, "gpus", "localhost")
    if not sample["gpus"]:
        assert "no GPUs:" in plain.stdout and sample["simulated"] is False
    sim = rdt(state_dir, "gpus", "localhost", "--simulate-gpus", "2")
    assert sim.returncode == 0, sim.stderr
    assert sim.stdout.count("SIMULATED") >= 3


def test_headless_parity_add_host_and_launch_form_values(
    state_dir: str, workdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = os.path.join(workdir, "cfg")
    monkeypatch.setenv("RDT_TUI_CONFIG_DIR", cfg)
    added = rdt(state_dir, "add-host", "gpu-z", "--hostname", "10.0.0.9", "--jump", "a,b")
    assert added.returncode == 0, added.stderr
    again = rdt(state_dir, "add-host", "gpu-z")
    assert again.returncode != 0 and "already there" in again.stderr
    replaced = rdt(state_dir, "add-host", "gpu-z", "--port", "2222", "--replace")
    assert replaced.returncode == 0
    with open(os.path.join(cfg, "hosts.toml")) as fh:
        text = fh.read()
    assert "port = 2222" in text and "10.0.0.9" not in text
    profile = os.path.join(workdir, "p.toml")
    with open(profile, "w") as fh:
        fh.write(
            f'command = ["{sys.executable}", "-c", "print(\'step=1 loss=1\')", "{{processes}}",'
            f' "{{max_steps}}"]\ncwd = "{workdir}"\n[form]\nmax_steps = 7\n'
        )
    run = rdt_json(
        state_dir, "launch", "localhost", "--profile", profile, "--set", "processes=3", "--json"
    )
    assert run["argv"][-2:] == ["3", "7"]
    bad = rdt(state_dir, "launch", "localhost", "--profile", profile, "--set", "batch=2")
    assert bad.returncode != 0 and "not a form field" in bad.stderr
