"""One host: its run profiles (Enter opens the launch form) and its runs (Enter opens the
dashboard). A profile that does not load is listed with its error, never hidden."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ..client import AgentClient
from ..config.profiles import Profile, ProfileError, list_profiles
from ..core.units import human_duration
from .dashboard import DashboardScreen
from .launch_screen import LaunchScreen, plan_of_profile

ProfileList = Callable[[], list[tuple[str, Profile | ProfileError]]]


class RunsScreen(Screen[None]):
    DEFAULT_CSS = """
    RunsScreen .title { height: 1; background: $panel; padding: 0 1; }
    RunsScreen #profiles { height: auto; max-height: 10; }
    RunsScreen #runs { height: 1fr; }
    """
    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="runs.refresh"),
        Binding("escape", "back", "Hosts", id="runs.back"),
    ]

    def __init__(self, client: AgentClient, profiles: ProfileList = list_profiles) -> None:
        super().__init__()
        self.client = client
        self.list_profiles = profiles
        self.profiles: dict[str, Profile | ProfileError] = {}

    def compose(self) -> ComposeResult:
        yield Static(
            f"Profiles for {self.client.host}: Enter opens the launch form", classes="title"
        )
        yield DataTable(cursor_type="row", zebra_stripes=True, id="profiles")
        yield Static(f"Runs on {self.client.host}: Enter opens one, Esc goes back", classes="title")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="runs")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#profiles", DataTable).add_columns("profile", "command")
        self.query_one("#runs", DataTable).add_columns("run", "status", "started", "command")
        self.action_refresh()

    def _fill_profiles(self) -> None:
        table = self.query_one("#profiles", DataTable)
        table.clear()
        self.profiles = dict(self.list_profiles())
        for name, p in self.profiles.items():
            if isinstance(p, ProfileError):
                table.add_row(name, f"! {p}"[:100], key=name)
            else:
                table.add_row(name, " ".join(p.command).replace("\n", " ⏎ ")[:100], key=name)

    @work(exclusive=True, group="runs")
    async def action_refresh(self) -> None:
        self._fill_profiles()
        runs = await self.client.runs()
        table = self.query_one("#runs", DataTable)
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
        if any(r["status"] == "running" for r in runs) or not self.profiles:
            table.focus()  # a live run is what a user comes back for

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value)
        if event.data_table.id == "runs":
            self.app.push_screen(DashboardScreen(self.client, key))
            return
        profile = self.profiles.get(key)
        if isinstance(profile, ProfileError):
            self.notify(f"{profile}", title="This profile does not load", severity="error")
        elif profile is not None:
            self.app.push_screen(LaunchScreen(self.client, plan_of_profile(profile)))

    def action_back(self) -> None:
        self.app.pop_screen()
