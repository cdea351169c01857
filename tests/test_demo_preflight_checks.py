"""The shipped demo profile's preflight, on the real local agent: a missing dataset says to run
`rdt-tui demo` (which makes it), not to push one; and the checkpoint-size check measures the
checkpoints where the demo's trainer writes them, `checkpoints/<run id>/checkpoint-N`, not a
`checkpoints/checkpoint-*` that never exists."""

from __future__ import annotations

import os
from typing import Any

import pytest

from rdt_tui.config.demo import demo_profile
from rdt_tui.config.paths import demo_dir
from rdt_tui.core.preflight import evaluate

from .conftest import Agent


async def checklist(agent: Agent) -> dict[str, dict[str, Any]]:
    """The demo's preflight by check id, as `rdt-tui preflight localhost --profile demo` makes
    it (the interpreter's packages left out: this test is not about them)."""
    profile = demo_profile(demo_dir())
    params = dict(profile.preflight_params(), packages=[])
    c = await agent.client()
    facts = await c.preflight(params, profile.cwd, {}, timeout=60)
    return {check["id"]: check for check in evaluate(dict(facts), params)}


def write(path: str, size: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(b"\0" * size)


@pytest.mark.asyncio
async def test_a_missing_demo_dataset_says_to_run_the_demo(agent: Agent) -> None:
    checks = await checklist(agent)
    dataset = checks["dataset"]
    assert dataset["status"] == "fail" and dataset["detail"].endswith("is not a directory")
    assert "rdt-tui demo" in dataset["hint"] and "push" not in dataset["hint"]
    # The folder to make is the runs' folder, not one literally named `{run_id}`.
    output = checks["output"]
    assert output["fix"]["args"]["path"] == os.path.join(demo_dir(), "checkpoints")

    os.makedirs(demo_dir())  # a folder without the dataset: the same hint
    dataset = (await checklist(agent))["dataset"]
    assert dataset["status"] == "fail" and dataset["detail"].startswith("no file matches")
    assert "rdt-tui demo" in dataset["hint"]


@pytest.mark.asyncio
async def test_the_checkpoint_size_comes_from_the_runs_folders(agent: Agent) -> None:
    runs = os.path.join(demo_dir(), "checkpoints")
    write(os.path.join(runs, "demo-20261201-100000-ab12", "checkpoint-100", "model.bin"), 1 << 20)
    write(os.path.join(runs, "demo-20261201-110000-cd34", "checkpoint-100", "model.bin"), 3 << 20)
    output = (await checklist(agent))["output"]
    assert "2 x 3.0 MiB per checkpoint (measured from 2 checkpoints)" in output["detail"], output
    assert output["status"] == "pass", output  # each run its own folder: no one else's to prune
