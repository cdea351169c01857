"""Stopping the demo (`s` + `y`, `rdt-tui stop`: SIGINT first) is a stop, not a crash of our
own trainer: its processes say "training stopped (SIGINT)" and leave no Traceback of
rdt_tui/demo/train.py in the log (the dashboard's `x` lists Tracebacks as errors).
(torch's launcher prints its own SignalException; that one is not ours to change.)"""

from __future__ import annotations

import importlib.util

import pytest

from rdt_tui.config.demo import demo_launch_args, ensure_dataset

from .conftest import Agent, wait_status

pytestmark = [
    pytest.mark.slow,
    pytest.mark.asyncio,
    pytest.mark.skipif(
        importlib.util.find_spec("torch") is None or importlib.util.find_spec("accelerate") is None,
        reason="the training extra (torch, accelerate) is not installed",
    ),
]


async def test_a_stopped_demo_leaves_no_traceback_of_the_trainer(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    ensure_dataset(workdir)
    args = demo_launch_args(workdir, max_steps=100000, step_delay=0.05, checkpoint_every=100000)
    run = await c.call("launch", args)
    sub = await c.subscribe(run["id"], gpu=False)
    async for ev in sub:  # a few optimizer steps: both processes are in the loop
        if ev["event"] == "metric":
            break
    await sub.close()
    await c.stop(run["id"], grace=30)
    await wait_status(c, run["id"], {"stopped"}, timeout=120)
    text = (await c.log(run["id"], since=0, limit=1 << 24))["text"]
    assert text.count("training stopped (SIGINT)") == 2, text[-3000:]
    assert "demo/train.py" not in text, text[-3000:]
