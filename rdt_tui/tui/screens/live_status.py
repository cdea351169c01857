"""The dashboard's status kept true once a second, and its layout fitted to the terminal:
ages tick, a quiet link is pinged and marked stale when nothing comes back, a small terminal
gets the compact layout, and a first alert is posted up for the bell."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.message import Message
from textual.screen import Screen

from ...client import AgentClient
from ..guard import guarded
from ..widgets.checkpoint_table import CheckpointTable
from ..widgets.gpu_pane import GpuPane
from ..widgets.status_bar import StatusBar

# The link is pinged when it has been quiet this long, and called stale when nothing came
# back for STALE_AFTER_S: a frozen link shows within about 4 s (SSH keepalives need ~15).
PING_QUIET_S = 1.0
STALE_AFTER_S = 3.0
COMPACT_WIDTH, COMPACT_HEIGHT = 100, 28


class LiveStatus(Screen[Any]):
    """Mixed into the dashboard (which has ``client``); ``tick`` runs once a second."""

    client: AgentClient

    class Alerted(Message):
        """An alert raised for the first time (or the run ended): the app may ring."""

        def __init__(self, kind: str, text: str) -> None:
            super().__init__()
            self.kind = kind
            self.text = text

    def on_resize(self) -> None:
        """Small terminals (under 100x28) get the compact layout. What stays, in order: the
        status line, the chart, one GPU summary row, the log, the checkpoints, the footer."""
        # The terminal's size, not the screen's (which reads 0x0 before its first layout).
        width, height = self.app.size
        if not width:
            return
        compact = width < COMPACT_WIDTH or height < COMPACT_HEIGHT
        if compact != self.has_class("-compact"):
            self.set_class(compact, "-compact")
            self.query_one(GpuPane).set_summary(compact)

    def tick(self) -> None:
        """Once a second: ages tick, the link's silence is measured, a ping goes out."""
        bar = self.query_one(StatusBar)
        silent = self.client.heard_age()
        stale = silent if silent >= STALE_AFTER_S and self.client.state == "connected" else None
        if stale is not None and bar.stale_s is None:
            self.notify(
                f"No answer from {self.client.host} for {silent:.0f} s: the data shown may be old",
                severity="warning",
            )
        bar.stale_s = stale
        bar.refresh_text()
        self.query_one(CheckpointTable).tick()
        if silent >= PING_QUIET_S and self.client.state == "connected":
            self.ping()

    @work(exclusive=True, group="ping")
    @guarded("Checking the link")
    async def ping(self) -> None:
        try:
            await self.client.ping()
        except Exception:
            pass  # silence is the answer: tick() reads it from heard_age()
