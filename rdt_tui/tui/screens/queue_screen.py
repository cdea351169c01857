"""A host's Slurm queue: the user's jobs (id, name, state, reason, time, nodes), the ones
rdt-tui launched named by their run; Enter opens that run's dashboard, ``r`` refreshes."""

from __future__ import annotations

import asyncio

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...client import AgentClient
from ...protocol.messages import QueueJob
from ..guard import guarded
from ..messages import OpenDashboard
from ..widgets.plain_table import PlainTable

FIRST_ROWS = 20  # the first paint's rows: at least as many as the table shows


class QueueScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="queue.refresh"),
        Binding("escape", "back", "Back", id="queue.back"),
    ]

    def __init__(self, client: AgentClient) -> None:
        super().__init__()
        self.client = client
        self.jobs: dict[str, QueueJob] = {}

    def compose(self) -> ComposeResult:
        yield Static(
            f"Slurm queue on {self.client.host}: Enter opens a run of ours, r refreshes",
            classes="title",
            id="queue-title",
            markup=False,  # the queue's words (squeue's error), never markup
        )
        yield PlainTable(cursor_type="row", zebra_stripes=True, id="queue")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#queue", DataTable).add_columns(
            "job", "name", "state", "reason", "time", "nodes", "run"
        )
        self.action_refresh()

    @work(exclusive=True, group="queue")
    @guarded("Reading the Slurm queue")
    async def action_refresh(self) -> None:
        result = await self.client.queue()
        table = self.query_one("#queue", DataTable)
        table.clear()
        self.jobs = {}
        if not result.get("scheduler"):
            self.query_one("#queue-title", Static).update(
                f"No Slurm on {self.client.host} (sbatch not found)"
            )
            return
        rows = []
        for job in result.get("jobs") or []:
            key = str(job["job_id"])
            self.jobs[key] = job
            values = (
                key,
                job["name"][:24],
                job["state"],
                job["reason"],
                job["time"],
                str(job["nodes"]),
                job.get("run") or "-",
            )
            rows.append((key, [str(c) for c in values]))  # PlainTable: never markup
        # A screenful first, painted, then the rest: the table measures every cell it is
        # given before it paints, and 500 jobs took a quarter of a second to show.
        first = max(FIRST_ROWS, self.app.size.height)  # the table is laid out later
        for key, cells in rows[:first]:
            table.add_row(*cells, key=key)
        if len(rows) > first:
            await self._painted()
            for key, cells in rows[first:]:
                table.add_row(*cells, key=key)

    async def _painted(self) -> None:
        """Once the screen has been drawn with what it holds now."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.call_after_refresh(_resolve, done)
        await done

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        job = self.jobs.get(str(event.row_key.value))
        run = job.get("run") if job else None
        if not run:
            self.notify("not a run of rdt-tui's: no dashboard", severity="warning")
            return
        self.post_message(OpenDashboard(self.client, run))

    def action_back(self) -> None:
        self.app.pop_screen()


def _resolve(done: asyncio.Future[None]) -> None:
    if not done.done():  # the screen went away meanwhile: the worker is cancelled
        done.set_result(None)
