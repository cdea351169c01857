"""Attaching the console to a host whose run died while nobody looked: "1 alert while you were
away" with its time, shown once (the real agent, a real job, the real console)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import pytest

from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport
from rdt_tui.tui.app import make_app

from .test_tui_dashboard import on_dashboard, until, workers_done

pytestmark = pytest.mark.asyncio


def messages(app: Any) -> list[str]:
    return [n.message for n in app._notifications]


async def test_attach_shows_the_alerts_raised_while_away_once(state_dir: str, workdir: str) -> None:
    job = os.path.join(workdir, "job.py")
    with open(job, "w") as fh:
        fh.write("import sys\nprint('step=1 loss=0.5', flush=True)\nsys.exit(3)\n")
    async with AgentClient(LocalTransport(state_dir)) as c:
        run = await c.launch([sys.executable, job], cwd=workdir, name="away")
    raised: list[dict[str, Any]] = []
    for _ in range(200):  # the agent raises it with no console attached
        async with AgentClient(LocalTransport(state_dir)) as c:
            raised = (await c.call("alerts", {}))["alerts"]
        if raised:
            break
        await asyncio.sleep(0.1)
    stamp = time.strftime("%a %H:%M", time.localtime(raised[0]["t"]))

    async def open_run() -> tuple[AgentClient, str]:
        client = AgentClient(LocalTransport(state_dir))
        await client.connect()
        return client, run["id"]

    app = make_app(open_run)
    async with app.run_test(size=(120, 40)):
        await until(lambda: on_dashboard(app))
        await until(lambda: any("while you were away" in m for m in messages(app)))
        [text] = [m for m in messages(app) if "while you were away" in m]
        assert text.startswith("1 alert while you were away")
        assert f"{stamp} {run['id']}: exited with code 3" in text
    # Shown: the next attach has nothing new to say.
    app = make_app(open_run)
    async with app.run_test(size=(120, 40)):
        await until(lambda: on_dashboard(app))
        await until(lambda: any("exit code 3" in m for m in messages(app)))  # the dashboard's
        await workers_done(app, "away")  # the attach has said all it had to say
        assert not any("while you were away" in m for m in messages(app))
