"""Render the dashboard of a short real run to docs/dashboard.svg (for the README).

python docs/make_screenshot.py
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport
from rdt_tui.tui.app import make_app
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.widgets.checkpoint_table import CheckpointTable
from rdt_tui.tui.widgets.gpu_pane import GpuPane
from rdt_tui.tui.widgets.loss_chart import LossChart

JOB = """
import math, os, random, time
random.seed(1)
for i in range(1, 2001):
    loss = 0.9 * math.exp(-i / 150) + 0.05 + random.random() * 0.02
    bar = f"Steps: {i // 20}%|##   | {i}/2000 [00:{i // 100:02d}<03:00, 9.8it/s"
    print(f"{bar}, loss={loss:.4f}, lr=0.0001]", end="\\r", flush=True)
    if i % 100 == 0:
        os.makedirs(f"checkpoint-{i}/ema", exist_ok=True)
        open(f"checkpoint-{i}/ema/model.safetensors", "wb").write(b"x" * 3_000_000)
        print(f"\\nSaved state to checkpoint-{i}", flush=True)
    time.sleep(0.02)
"""


async def main() -> None:
    state = tempfile.mkdtemp(prefix="rdt-shot-", dir="/tmp")
    work = tempfile.mkdtemp(prefix="rdt-shot-work-", dir="/tmp")
    ids: list[str] = []

    async def open_run() -> tuple[AgentClient, str]:
        client = AgentClient(LocalTransport(state, simulate_gpus=4))
        await client.connect()
        run = await client.launch([sys.executable, "-c", JOB], cwd=work, name="rdt-finetune")
        ids.append(run["id"])
        return client, run["id"]

    app = make_app(open_run)
    async with app.run_test(size=(120, 40)) as pilot:
        while not isinstance(app.screen, DashboardScreen) or not app.screen.query(LossChart):
            await asyncio.sleep(0.1)  # the screen first, then its composed widgets
        chart = app.screen.query_one(LossChart)
        table = app.screen.query_one(CheckpointTable)
        gpus = app.screen.query_one(GpuPane)
        gpus.window = 60.0  # a minute: the cards' charts fill in the time the shot takes
        while len(chart.series.get("loss", ())) < 500 or table.row_count < 2:
            await asyncio.sleep(0.2)
        while len(gpus.host_series) < 25:
            await asyncio.sleep(0.2)
        gpus.cycle_window()
        gpus.window = 60.0
        gpus._render_last()
        await asyncio.sleep(1.5)
        await pilot.pause()
        out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboard.svg")
        app.save_screenshot(out)
        print(out)
        async with AgentClient(LocalTransport(state, simulate_gpus=4)) as c:
            await c.stop(ids[0], grace=1)
            await c.call("shutdown")
    shutil.rmtree(state, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
