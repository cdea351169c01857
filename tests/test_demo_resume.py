"""`rdt-tui demo` launches the shipped demo profile, so `r` on a demo run opens the launch
form with the resume flag filled (it answered "was not launched from a profile" when the demo
described its own argv), in the demo's folder. And the CLI builds that plan without the TUI."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from rdt_tui.cli.demo import demo_plan
from rdt_tui.client import AgentClient
from rdt_tui.config.demo import shipped_demo_path
from rdt_tui.config.profiles import find_profile, load_profile, profile_dirs
from rdt_tui.launch.plan import resume_plan
from rdt_tui.transport.local import LocalTransport
from rdt_tui.tui.app import make_app
from rdt_tui.tui.screens.launch_screen import LaunchScreen
from rdt_tui.tui.widgets.checkpoint_table import CheckpointTable

from .test_demo_accelerate import needs_torch
from .test_tui_dashboard import on_dashboard, until

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def demo_args(workdir: str, steps: int = 600, checkpoint_every: int = 100) -> argparse.Namespace:
    """What `rdt-tui demo --workdir W --steps N --step-delay 0.05 --checkpoint-every C` parses."""
    return argparse.Namespace(
        workdir=workdir, steps=steps, step_delay=0.05, checkpoint_every=checkpoint_every
    )


@needs_torch
def test_the_demo_runs_its_profile_and_a_resume_plan_of_it_fills_the_flag(workdir: str) -> None:
    plan = demo_plan(demo_args(workdir, steps=40, checkpoint_every=10))
    args = plan.build(dict(plan.values))
    # What the agent records and `r` reads back: the profile, its metric format, the folder.
    assert args["profile"] == shipped_demo_path() and args["metric_format"] == "rdt"
    assert args["cwd"] == workdir and args["name"] == "demo"
    argv = args["argv"]
    assert argv[argv.index("--max-steps") + 1] == "40"
    assert argv[argv.index("--checkpoint-every") + 1] == "10"
    assert argv[argv.index("--step-delay") + 1] == "0.05"
    checkpoint = os.path.join(workdir, "checkpoints", "demo-x", "checkpoint-10")
    profile = load_profile(find_profile(args["profile"], profile_dirs()))
    again = resume_plan(profile, checkpoint, args["cwd"])  # as `r` does with the run's status
    resumed = again.build(dict(again.values))
    assert resumed["argv"][-1] == f"--resume_from_checkpoint={checkpoint}"
    assert resumed["cwd"] == workdir and resumed["profile"] == args["profile"]


@needs_torch
def test_the_cli_builds_the_demo_plan_without_the_tui(workdir: str) -> None:
    code = f"""
        import argparse, sys
        from rdt_tui.cli.demo import demo_plan
        plan = demo_plan(argparse.Namespace(
            workdir={workdir!r}, steps=6, step_delay=0.0, checkpoint_every=3))
        plan.build(dict(plan.values))
        print("\\n".join(m for m in sys.modules if m.startswith(("rdt_tui.tui", "textual"))))
    """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == []


@pytest.mark.slow
@needs_torch
async def test_r_on_a_run_started_by_rdt_tui_demo_opens_the_form_with_the_resume_flag(
    state_dir: str, workdir: str
) -> None:
    a = demo_args(workdir, steps=2000, checkpoint_every=2)
    ids: list[str] = []

    async def open_run() -> tuple[AgentClient, Any]:  # as `rdt-tui demo` opens the console
        client = AgentClient(LocalTransport(state_dir), reconnect=True)
        await client.connect()
        return client, await asyncio.to_thread(demo_plan, a)

    app = make_app(open_run)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(lambda: isinstance(app.screen, LaunchScreen) and bool(app.screen.args))
            await pilot.press("l")
            await pilot.pause(0.2)
            await pilot.press("y")
            await until(lambda: on_dashboard(app), timeout=60)
            dash = app.screen
            ids.append(dash.run_id)  # type: ignore[attr-defined]
            table = dash.query_one(CheckpointTable)
            await until(lambda: table.row_count >= 1, timeout=240)
            await pilot.press("r")
            await until(lambda: isinstance(app.screen, LaunchScreen), timeout=60)
            form = app.screen
            assert isinstance(form, LaunchScreen) and form.args is not None
            folder = os.path.join(workdir, "checkpoints", ids[0], "checkpoint-")
            assert form.args["argv"][-1].startswith(f"--resume_from_checkpoint={folder}")
            assert form.args["cwd"] == workdir  # the demo's folder, not the profile's ~/...
            await pilot.press("q")
    finally:
        async with AgentClient(LocalTransport(state_dir)) as c:
            for run in ids:
                await c.stop(run, grace=1)
