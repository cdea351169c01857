"""Detach and re-attach 50 times while a job writes 1000 lines/s: no gap, no duplicate."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys

import pytest

from rdt_tui.core.metrics import parse_text
from rdt_tui.protocol.messages import Point
from rdt_tui.protocol.wire import points_of

from .conftest import Agent

pytestmark = pytest.mark.asyncio

LOG_WRITER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jobs", "log_writer.py")


async def test_fifty_reattaches_see_every_point_exactly_once(agent: Agent, workdir: str) -> None:
    c = await agent.client()
    done_flag = os.path.join(workdir, "done")
    run = await c.launch([sys.executable, LOG_WRITER, "5", done_flag], cwd=workdir)
    await c.close()
    rng = random.Random(3)
    received: list[Point] = []
    since: dict[str, int] = {"log": 0, "metric": 0, "checkpoint": 0}
    log_bytes = b""
    complete = False
    attaches = 0
    while not complete:
        attaches += 1
        if attaches == 51:
            open(done_flag, "w").close()  # 50 re-attaches done: let the job finish
        client = await agent.client()
        sub = await client.subscribe(run["id"], since, gpu=False)
        end = asyncio.get_running_loop().time() + rng.uniform(0.02, 0.25)
        try:
            while True:
                left = end - asyncio.get_running_loop().time()
                if left <= 0 and attaches <= 50:
                    break
                try:
                    ev = await sub.next(max(left, 0.01) if attaches <= 50 else 30)
                except asyncio.TimeoutError:
                    continue
                if ev["event"] == "metric":
                    received.extend(points_of(ev["data"]))
                elif ev["event"] == "log":
                    assert ev["data"]["offset"] == len(log_bytes)
                    log_bytes += ev["data"]["text"].encode()
                elif ev["event"] == "status" and ev["data"].get("complete"):
                    complete = True
                    break
                since = dict(sub.since)
        finally:
            since = dict(sub.since)
            if attaches % 2:
                await client.close()  # a clean detach
            else:
                transport = client.transport
                os.kill(transport.pid, signal.SIGKILL)  # type: ignore[attr-defined]
                await client.close()  # the attach process died under us
            agent.clients.remove(client)
    assert attaches > 50
    with open(os.path.join(agent.state_dir, "runs", run["id"], "output.log"), "rb") as fh:
        whole = fh.read()
    expected = parse_text(whole.decode("utf-8", "replace"))
    assert len(expected) > 5 * 1000  # really at least 5 s of 1000 lines/s
    assert [p["seq"] for p in received] == list(range(1, len(received) + 1))
    got = [(p["name"], p["value"], p["step"]) for p in received]
    assert got == [(p.name, p.value, p.step) for p in expected]
    assert log_bytes == whole
