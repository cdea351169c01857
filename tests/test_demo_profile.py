"""The shipped demo profile where `make setup` ran: its preflight passes with the console's own
interpreter (shown in the checklist) and no W&B warning, and each demo run writes into a
checkpoint folder of its own, so a second run prunes nothing of the first."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from rdt_tui.config.demo import demo_launch_args, ensure_dataset
from rdt_tui.config.paths import demo_dir

from .conftest import Agent, wait_status

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("torch") is None or importlib.util.find_spec("accelerate") is None,
        reason="the training extra (torch, accelerate) is not installed",
    ),
]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_demo_preflight_passes_with_the_consoles_interpreter(state_dir: str, workdir: str) -> None:
    # The profile's cwd is {demo_dir}: the test's own data dir's demo/ (RDT_TUI_DATA_DIR, set
    # for every test), with the dataset `rdt-tui demo` makes.
    home = os.path.join(workdir, "home")
    demo = demo_dir()
    os.makedirs(demo)
    ensure_dataset(demo)
    # PATH without the console's environment: the daemon's `python` would be another one.
    env = dict(os.environ, HOME=home, RDT_TUI_STATE_DIR=state_dir, PATH="/usr/bin:/bin")
    out = subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", "preflight", "localhost", "--profile", "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "FAIL" not in out.stdout, out.stdout
    assert f"{sys.executable} (Python" in out.stdout
    assert "the console's environment" in out.stdout
    assert "W&B" not in out.stdout  # the demo never uses it: no check, no warning


@pytest.mark.asyncio
async def test_each_demo_run_has_its_own_checkpoint_folder(agent: Agent, workdir: str) -> None:
    c = await agent.client()
    ensure_dataset(workdir)
    runs = []
    for _ in range(2):
        args = demo_launch_args(workdir, max_steps=6, step_delay=0.0, checkpoint_every=3, keep=1)
        run = await c.call("launch", args)
        final = await wait_status(c, run["id"], {"exited", "stopped", "lost"}, timeout=180)
        assert final["status"] == "exited" and final["exit_code"] == 0
        runs.append(run["id"])
    first, second = (os.path.join(workdir, "checkpoints", r) for r in runs)
    # keep=1 in each: the second run's pruning left the first run's checkpoint alone.
    assert os.listdir(first) == ["checkpoint-6"] and os.listdir(second) == ["checkpoint-6"]
    listed = await c.checkpoints(runs[1])
    assert [x["path"] for x in listed["checkpoints"]] == [os.path.join(second, "checkpoint-6")]
