"""The queue screen's first paint: a screenful of rows is drawn before the table takes the rest
of 500 jobs (the table measures every cell it holds before it paints), and a job's name is
shown as written, never read as markup. One layer: the screen, with a stand-in client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from textual.app import App
from textual.widgets import DataTable

from rdt_tui.tui.screens.queue_screen import QueueScreen

from .test_tui_dashboard import until

NAMES = {"1000": "[b]bold[/b]", "1001": "held[/x]"}


class QueueClient:
    host = "cluster"

    async def queue(self) -> dict[str, Any]:
        jobs = []
        for i in range(500):
            key = str(1000 + i)
            jobs.append(
                {
                    "job_id": key,
                    "name": NAMES.get(key, f"held{i}"),
                    "state": "PENDING",
                    "reason": "JobHeldUser",
                    "time": "0:00",
                    "nodes": 1,
                    "nodelist": "",
                    "start": "N/A",
                    "run": None,
                }
            )
        return {"scheduler": "slurm", "jobs": jobs}


@pytest.mark.asyncio
@pytest.mark.timeout(60)  # the old screen hung on a job named "held[/x]"
async def test_the_first_paint_holds_a_screenful_then_the_table_fills() -> None:
    app: App[None] = App()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(QueueScreen(QueueClient()))  # type: ignore[arg-type]
        table = app.screen.query_one("#queue", DataTable)
        await until(lambda: table.row_count > 0)
        painted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        app.call_after_refresh(painted.set_result, None)
        rows_at_paint = table.row_count
        await painted
        assert table.size.height <= rows_at_paint < 500  # a screenful, not all 500
        await until(lambda: table.row_count == 500)
        await pilot.pause()
        shown = "\n".join(table.render_line(y).text for y in range(4))  # header, 1000, 1001
        assert "[b]bold[/b]" in shown and "held[/x]" in shown, shown
