"""The hosts screen (where ``rdt-tui`` opens): every known host with its live status.

Each host is checked by its own worker (connect, deploy, hello, GPUs, runs), so one slow or
dead host never holds up the others. Enter opens the host's runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ..client import AgentClient

COLUMNS = ("host", "address", "jump", "status", "agent", "gpus", "runs")


@dataclass
class HostRow:
    name: str
    address: str
    jump: str


class HostsScreen(Screen[None]):
    DEFAULT_CSS = """
    HostsScreen #title { height: 1; background: $panel; padding: 0 1; }
    HostsScreen DataTable { height: 1fr; }
    """
    BINDINGS = [Binding("r", "refresh", "Check again", id="hosts.refresh")]

    def __init__(self, hosts: list[HostRow], connect: Callable[[str], Any]) -> None:
        super().__init__()
        self.hosts = hosts
        self.connect = connect
        self.status: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static("Hosts: Enter opens a host's runs, r checks again", id="title")
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in COLUMNS:
            table.add_column(col, key=col)
        for host in self.hosts:
            table.add_row(
                host.name,
                host.address,
                host.jump or "-",
                "checking...",
                "-",
                "-",
                "-",
                key=host.name,
            )
        self.action_refresh()

    def action_refresh(self) -> None:
        for host in self.hosts:
            self._set(host.name, status="checking...")
            self.check(host.name)

    def _set(self, name: str, **cells: str) -> None:
        table = self.query_one(DataTable)
        for col, value in cells.items():
            table.update_cell(name, col, value)
        if "status" in cells:
            self.status[name] = cells["status"]

    @work(group="check")
    async def check(self, name: str) -> None:
        try:
            client: AgentClient = await self.connect(name)
            gpus = (await client.gpus())["samples"][-1]
            runs = [r for r in await client.runs() if r["status"] == "running"]
        except Exception as exc:  # every failure is a status to show, not a crash
            title = getattr(exc, "title", type(exc).__name__)
            self._set(name, status=f"{title}: {getattr(exc, 'message', exc)}"[:80])
            return
        count = len(gpus["gpus"])
        gpu_text = f"{count}{' SIMULATED' if gpus['simulated'] else ''}" if count else "none"
        self._set(
            name,
            status="reachable",
            agent=str(client.info.get("build", "-"))[:8],
            gpus=gpu_text,
            runs=str(len(runs)),
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter on a row: the table's own binding selects it, and we open the host.
        name = str(event.row_key.value)
        if self.status.get(name) != "reachable":
            self.notify(f"{name}: {self.status.get(name, 'not checked')}", severity="warning")
            return
        self.open_host(name)

    @work(group="open")
    async def open_host(self, name: str) -> None:
        from .runs_screen import RunsScreen

        client = await self.connect(name)
        await self.app.push_screen(RunsScreen(client))
