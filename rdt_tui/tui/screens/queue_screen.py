"""A host's Slurm queue: the user's jobs (id, name, state, reason, time, nodes), the ones
rdt-tui launched named by their run; Enter opens that run's dashboard, ``r`` refreshes."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...client import AgentClient
from ...protocol.messages import QueueJob
from ..guard import guarded
from ..messages import OpenDashboard


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
        )
        yield DataTable(cursor_type="row", zebra_stripes=True, id="queue")
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
        for job in result.get("jobs") or []:
            key = str(job["job_id"])
            self.jobs[key] = job
            table.add_row(
                key,
                job["name"][:24],
                job["state"],
                job["reason"],
                job["time"],
                str(job["nodes"]),
                job.get("run") or "-",
                key=key,
            )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        job = self.jobs.get(str(event.row_key.value))
        run = job.get("run") if job else None
        if not run:
            self.notify("not a run of rdt-tui's: no dashboard", severity="warning")
            return
        self.post_message(OpenDashboard(self.client, run))

    def action_back(self) -> None:
        self.app.pop_screen()
