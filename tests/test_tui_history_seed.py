"""Opening the dashboard on a run with many points: the chart starts from the agent's
downsampled history and the subscription follows from its last seq, so no point of the past
is streamed (a run of 10 million points would otherwise be sent whole before the chart showed
its present). Real local agent, real finished job."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport
from rdt_tui.tui.app import make_app
from rdt_tui.tui.screens.dashboard import CHART_SEED_POINTS
from rdt_tui.tui.widgets.loss_chart import LossChart
from rdt_tui.tui.widgets.status_bar import StatusBar

from .test_tui_dashboard import on_dashboard, until

pytestmark = pytest.mark.asyncio

POINTS = 20000
JOB = f"for i in range(1, {POINTS + 1}): print(f'step={{i}} loss={{1 / i}}')"


async def test_the_chart_starts_from_history_and_follows_from_its_last_seq(
    state_dir: str, workdir: str
) -> None:
    asked: list[dict[str, Any]] = []

    async def open_run() -> tuple[AgentClient, str]:
        client = AgentClient(LocalTransport(state_dir), reconnect=True)
        await client.connect()
        run = (await client.launch([sys.executable, "-c", JOB], cwd=workdir))["id"]
        for _ in range(600):
            if (await client.status(run))["status"] != "running":
                break
            await asyncio.sleep(0.1)
        done = await client.metrics(run, limit=1, wait_ended=True)
        assert done["finished"]
        subscribe = client.subscribe

        async def recording(run: Any, since: Any = None, gpu: Any = None) -> Any:
            asked.append(dict(since or {}))
            return await subscribe(run, since=since, gpu=gpu)

        client.subscribe = recording  # type: ignore[method-assign]
        return client, run

    app = make_app(open_run)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: on_dashboard(app))
        chart = app.screen.query_one(LossChart)
        await until(lambda: bool(asked) and len(chart.series.get("loss", ())) > 0)
        loss = chart.series["loss"]
        assert 100 < len(loss) <= CHART_SEED_POINTS  # the view, not every point
        assert loss.steps[0] == 1 and loss.steps[-1] == POINTS  # from the start to the end
        assert asked[0]["metric"] == POINTS  # nothing of the past streamed after it
        assert app.screen.query_one(StatusBar).step == POINTS  # where the run got to
        await pilot.press("q")
