"""The runs of one host: Enter opens a run's dashboard."""

from __future__ import annotations

import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ..client import AgentClient
from ..core.units import human_duration
from .dashboard import DashboardScreen


class RunsScreen(Screen[None]):
    DEFAULT_CSS = """
    RunsScreen #title { height: 1; background: $panel; padding: 0 1; }
    RunsScreen DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="runs.refresh"),
        Binding("escape", "back", "Hosts", id="runs.back"),
    ]

    def __init__(self, client: AgentClient) -> None:
        super().__init__()
        self.client = client

    def compose(self) -> ComposeResult:
        yield Static(f"Runs on {self.client.host}: Enter opens one, Esc goes back", id="title")
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("run", "status", "started", "command")
        self.action_refresh()

    @work(exclusive=True, group="runs")
    async def action_refresh(self) -> None:
        runs = await self.client.runs()
        table = self.query_one(DataTable)
        table.clear()
        for r in sorted(runs, key=lambda r: r.get("started_at") or 0, reverse=True):
            status = r["status"]
            if status in ("exited", "stopped"):
                status += f" ({r.get('exit_code')})"
            table.add_row(
                r["id"],
                status,
                human_duration(time.time() - r["started_at"] if r.get("started_at") else None),
                " ".join(r.get("argv") or [])[:80],
                key=r["id"],
            )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(DashboardScreen(self.client, str(event.row_key.value)))

    def action_back(self) -> None:
        self.app.pop_screen()
