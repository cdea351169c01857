"""A profile whose output folder holds another run's checkpoints: preflight warns and names
the run, and so does the launch form (the real agent, a real earlier run)."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from textual.widgets import Static

from rdt_tui.client import AgentClient
from rdt_tui.config.profiles import load_profile
from rdt_tui.launch.plan import plan_of_profile
from rdt_tui.transport.local import LocalTransport
from rdt_tui.tui.app import make_app
from rdt_tui.tui.screens.launch_screen import LaunchScreen

from .conftest import Agent, wait_status
from .test_cli import rdt
from .test_tui_status import until

MAKES_A_CHECKPOINT = "import os; os.makedirs('out/checkpoint-5/ema', exist_ok=True)"


def profile_on(workdir: str, output_dir: str = "out") -> str:
    path = os.path.join(workdir, "p.toml")
    with open(path, "w") as fh:
        fh.write(
            f'name = "p"\ncommand = ["true"]\ncwd = "{workdir}"\ncheckpoint_dir = "out"\n'
            f'[preflight]\npython = "{sys.executable}"\npackages = []\nhub = false\n'
            f'cpu = true\nwandb = false\noutput_dir = "{output_dir}"\n'
        )
    return path


async def earlier_run(agent: Agent, workdir: str) -> tuple[AgentClient, str]:
    c = await agent.client()
    run = await c.launch(
        [sys.executable, "-c", MAKES_A_CHECKPOINT],
        cwd=workdir,
        checkpoint_dir=os.path.join(workdir, "out"),
        checkpoint_globs=["checkpoint-*"],
    )
    await wait_status(c, run["id"], {"exited"}, timeout=30)
    return c, str(run["id"])


@pytest.mark.asyncio
async def test_preflight_names_the_run_whose_checkpoints_are_in_the_output_folder(
    agent: Agent, workdir: str
) -> None:
    _, first = await earlier_run(agent, workdir)
    out = rdt(agent.state_dir, "preflight", "localhost", "--profile", profile_on(workdir))
    line = next(x for x in out.stdout.splitlines() if "Output and disk" in x)
    assert "WARN" in line and f"checkpoints of run {first}" in line, out.stdout
    # A folder of the run's own: nothing to warn about.
    os.makedirs(os.path.join(workdir, "fresh"))
    fresh = profile_on(workdir, "fresh")
    clean = rdt(agent.state_dir, "preflight", "localhost", "--profile", fresh)
    assert "checkpoints of run" not in clean.stdout, clean.stdout


@pytest.mark.asyncio
async def test_the_launch_form_warns_with_the_run_they_belong_to(
    agent: Agent, workdir: str
) -> None:
    _, first = await earlier_run(agent, workdir)
    profile = load_profile(profile_on(workdir))

    async def open_run() -> tuple[Any, Any]:
        c = AgentClient(LocalTransport(agent.state_dir))
        await c.connect()
        return c, plan_of_profile(profile)

    app = make_app(open_run)
    async with app.run_test(size=(120, 40)):
        await until(lambda: isinstance(app.screen, LaunchScreen))
        summary = app.screen.query_one("#summary", Static)
        await until(lambda: f"checkpoints of run {first}" in str(summary.render()), timeout=60)
