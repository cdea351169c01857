"""A snapshot of the dashboard's log at 120x40: a search match highlighted with its context,
lines wrapped, the error list open. The log is a fixed text read and searched by the agent's
own functions (read_chunk, logsearch) on a file, behind the scripted fake client.

Re-record after a deliberate change with `pytest tests/test_tui_log_view_snapshot.py
--snapshot-update` and review the SVG."""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Any

from textual.pilot import Pilot

from rdt_tui.agent import logsearch
from rdt_tui.agent.follower import read_chunk
from rdt_tui.protocol.messages import LogChunk, LogTail
from rdt_tui.tui.app import make_app
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.widgets.log_errors import ErrorList
from rdt_tui.tui.widgets.log_pane import LogPane
from rdt_tui.tui.widgets.log_view import LogView
from rdt_tui.tui.widgets.loss_chart import LossChart
from rdt_tui.tui.widgets.status_bar import StatusBar

from .fakes import FakeClient, FakeSubscription, scripted_events
from .test_tui_snapshots import settle

LINES = (
    [f"step={i} loss={1 / (i + 1):.4f} lr=0.0001" for i in range(40)]
    + [
        "Saved state to /data/runs/rdt-finetune/checkpoint-40 (model, optimizer, scheduler, "
        "random states, ema weights and the dataloader position)",
        "Traceback (most recent call last):",
        '  File "main.py", line 7, in <module>',
        "ModuleNotFoundError: No module named 'accelerate'",
    ]
    + [f"step={i} loss={1 / (i + 1):.4f} lr=0.0001" for i in range(40, 60)]
)


class LogClient(FakeClient):
    """The scripted client, with a log that the agent's readers read from a file."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    async def subscribe(self, run: Any, since: Any = None, gpu: Any = None) -> FakeSubscription:
        events = scripted_events(run or "")
        text, _, end = read_chunk(self.path, 0, 1 << 20, True)
        for ev in events:
            if ev["event"] == "log":
                ev["seq"], ev["data"] = end, {"offset": 0, "text": text}
        return FakeSubscription(events)

    async def tail(self, run: str, lines: int = 50) -> LogTail:
        return {"lines": [], "end": os.path.getsize(self.path)}

    async def log(self, run: str, since: int = 0, limit: int = 1 << 20) -> LogChunk:
        text, start, end = read_chunk(self.path, since, limit, True)
        return {"offset": start, "end": end, "text": text}

    async def log_search(self, run: str, pattern: Any, offset: int = 0, *args: Any) -> Any:
        backward, limit = args[0], args[1]
        words = pattern if isinstance(pattern, list) else [pattern]
        ignore = all(w == w.lower() for w in words)
        needles = [w.lower().encode() if ignore else w.encode() for w in words]
        return logsearch.search(self.path, needles, None, ignore, offset, backward, limit, 5.0)


def test_log_search_wrap_and_errors(snap_compare: Any) -> None:
    fd, path = tempfile.mkstemp(prefix="rdt-log-", suffix=".log")
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(LINES) + "\n")

    async def open_run() -> tuple[Any, str]:
        return LogClient(path), "rdt-finetune-1"

    app = make_app(open_run)

    async def ready(pilot: Pilot[Any]) -> None:
        def view() -> LogView:
            assert isinstance(app.screen, DashboardScreen)
            return app.screen.query_one(LogView)

        await settle(pilot, lambda: len(view().lines) == len(LINES))
        await pilot.press("slash", *"0244", "enter")
        await settle(pilot, lambda: view().current is not None and view().top_line() > 0)
        await pilot.press("W")
        await pilot.press("x")
        errors = app.screen.query_one(ErrorList)
        await settle(
            pilot, lambda: errors.option_count == 1 and "found" in str(errors.border_subtitle)
        )
        await pilot.press("escape")  # closes the list; the highlights stay until a second Esc
        await asyncio.sleep(0.05)
        app.screen.query_one(LogPane).toggle_errors()
        await settle(pilot, lambda: errors.has_class("-shown"))
        bar = app.screen.query_one(StatusBar)
        bar.clock = lambda: bar.data_at or 0.0  # "data 0s ago", however long the test took
        bar.refresh_text()
        app.screen.query_one(LossChart).redraw()
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=(120, 40), run_before=ready)
    finally:
        os.unlink(path)
