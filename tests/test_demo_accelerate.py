"""A real 2-process accelerate run of the demo trainer through the agent (CPU, gloo)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

import pytest

from rdt_tui.config.demo import demo_launch_args, ensure_dataset
from rdt_tui.protocol.wire import points_of

from .conftest import Agent
from .test_cli import rdt

pytestmark = [pytest.mark.slow]

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None or importlib.util.find_spec("accelerate") is None,
    reason="the training extra (torch, accelerate) is not installed",
)


@needs_torch
@pytest.mark.asyncio
async def test_two_real_processes_report_loss_and_keep_the_newest_checkpoints(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    ensure_dataset(workdir)
    args = demo_launch_args(workdir, max_steps=60, step_delay=0.0, checkpoint_every=20, keep=2)
    run = await c.call("launch", args)
    sub = await c.subscribe(run["id"], gpu=False)
    losses: list[Any] = []
    added: list[str] = []
    final: Mapping[str, Any] = {}
    async for ev in sub:
        if ev["event"] == "metric":
            losses += [
                (p["step"], p["value"]) for p in points_of(ev["data"]) if p["name"] == "loss"
            ]
        elif ev["event"] == "checkpoint" and ev["data"]["kind"] == "added":
            added.append(ev["data"]["checkpoint"]["name"])
        elif ev["event"] == "status" and ev["data"].get("complete"):
            final = ev["data"]
            break
    log = "\n".join((await c.tail(run["id"], 400))["lines"])
    assert final["status"] == "exited" and final["exit_code"] == 0, log
    assert "2 processes" in log
    steps = [s for s, _ in losses]
    assert steps == sorted(steps) and steps[-1] == 60 and len(set(steps)) >= 50
    assert all(v > 0 for _, v in losses)
    out = os.path.join(workdir, "checkpoints", run["id"])  # a folder of the run's own
    assert sorted(os.listdir(out)) == ["checkpoint-40", "checkpoint-60"]  # only the newest 2
    ck = os.path.join(out, "checkpoint-60")
    assert os.path.exists(os.path.join(ck, "ema", "model.safetensors"))
    # One random state per rank: two real processes trained, not one.
    assert {"random_states_0.pkl", "random_states_1.pkl"} <= set(os.listdir(ck))
    listing = await c.checkpoints(run["id"])
    assert [x["step"] for x in listing["checkpoints"]] == [40, 60]
    assert "checkpoint-60" in added


@needs_torch
def test_demo_headless_command_exits_zero_when_the_run_ends(state_dir: str, workdir: str) -> None:
    env = dict(os.environ, RDT_TUI_STATE_DIR=state_dir, RDT_TUI_DATA_DIR=workdir)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "rdt_tui.cli",
            "demo",
            "--headless",
            "--steps",
            "30",
            "--step-delay",
            "0",
            "--checkpoint-every",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "loss" in out.stdout and "checkpoint checkpoint-30" in out.stdout
    assert "exited (0)" in out.stderr


def _run_steps(state_dir: str, *args: str) -> tuple[str, list[int]]:
    """Launch through the CLI, wait for the end; (run id, loss steps)."""

    def cli(*a: str) -> str:
        done = rdt(state_dir, *a, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run = json.loads(cli("launch", "localhost", "--json", *args))["id"]
    for _ in range(600):
        status = json.loads(cli("status", "localhost", run, "--json"))
        if status["status"] != "running":
            break
        time.sleep(0.5)
    assert status["status"] == "exited" and status["exit_code"] == 0, cli("logs", "localhost", run)
    points = json.loads(cli("metrics", "localhost", run, "--name", "loss", "--json"))
    return run, [p["step"] for p in points]


@needs_torch
def test_resume_from_a_chosen_checkpoint_continues_its_step(state_dir: str, workdir: str) -> None:
    ensure_dataset(workdir)
    out = os.path.join(workdir, "checkpoints")
    profile = os.path.join(workdir, "demo.toml")
    with open(profile, "w") as fh:
        fh.write(
            f'command = ["{sys.executable}", "-m", "rdt_tui.demo.train", "--data", '
            f'"{os.path.join(workdir, "libero_demo.hdf5")}", "--output-dir", "{out}", '
            '"--max-steps", "{max_steps}", "--checkpoint-every", "20", "--keep", "5", '
            '"--step-delay", "0"]\n'
            'resume_args = ["--resume_from_checkpoint={resume}"]\n'
            f'cwd = "{workdir}"\nmetric_format = "rdt"\ncheckpoint_dir = "{out}"\n'
            '[env]\nOMP_NUM_THREADS = "1"\n[form]\nmax_steps = 40\n'
        )
    _, first = _run_steps(state_dir, "--profile", profile)
    assert first[-1] == 40 and sorted(os.listdir(out)) == ["checkpoint-20", "checkpoint-40"]
    _, resumed = _run_steps(
        state_dir,
        "--profile",
        profile,
        "--set",
        "max_steps=60",
        "--resume",
        os.path.join(out, "checkpoint-20"),
    )
    # It continued from step 20: the first step it reports is 21, the last 60.
    assert resumed[0] == 21 and resumed[-1] == 60, resumed[:5]
    assert "checkpoint-60" in os.listdir(out)
