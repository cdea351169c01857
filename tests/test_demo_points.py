"""The demo trainer drives tqdm as RDT does (update, then set_postfix): one point per step."""

from __future__ import annotations

import asyncio
import importlib.util
import os

import pytest

from rdt_tui.config.demo import demo_launch_args, ensure_dataset
from rdt_tui.core.metrics import keep_latest
from rdt_tui.protocol.messages import Point
from rdt_tui.protocol.wire import points_of

from .conftest import Agent

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]

STEPS = 30


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None or importlib.util.find_spec("accelerate") is None,
    reason="the training extra (torch, accelerate) is not installed",
)
async def test_a_demo_run_gives_one_loss_point_per_step_live_and_on_attach(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    ensure_dataset(workdir)
    # Steps slower than tqdm's mininterval: update(1) paints too, with the previous loss.
    args = demo_launch_args(workdir, max_steps=STEPS, step_delay=0.15, checkpoint_every=STEPS)
    run = await c.call("launch", args)
    sub = await c.subscribe(run["id"], gpu=False)
    live: list[Point] = []
    while True:
        ev = await sub.next(300)
        if ev["event"] == "metric":
            live.extend(points_of(ev["data"]))
        elif ev["event"] == "status" and ev["data"].get("complete"):
            assert ev["data"]["exit_code"] == 0
            break
    with open(os.path.join(agent.state_dir, "runs", run["id"], "output.log"), "rb") as fh:
        log = fh.read()
    # The bar really was painted twice for most steps (the stale postfix, then the new one).
    assert log.count(b"loss=") > 1.5 * STEPS
    # What the agent's store holds, as a client attaching now reads it (no client-side fix).
    attached = (await asyncio.wait_for(c.metrics(run["id"], wait_ended=True), 60))["points"]
    loss = [(p["step"], p["value"]) for p in attached if p["name"] == "loss"]
    assert [s for s, _ in loss] == list(range(1, STEPS + 1))
    assert [(p["step"], p["value"]) for p in keep_latest(live) if p["name"] == "loss"] == loss
