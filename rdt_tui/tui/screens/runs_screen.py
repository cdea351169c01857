"""One host: its run profiles (Enter opens the launch form, ``p`` runs the preflight
checklist, ``f`` applies the highlighted check's fix) and its runs (Enter opens the
dashboard; space marks a run and ``v`` compares the marked runs, which may be on several
hosts; ``a`` adopts a run started by hand). A profile that does not load is listed with its
error, never hidden."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...client import AgentClient
from ...client.preflight import apply_fix, run_checks
from ...core.compare import RunMarks
from ...core.preflight import summary
from ...core.units import human_duration
from ...protocol.messages import RunSummary
from ..check_detail import by_hand, check_text
from ..confirm import Confirm
from ..errors import notify_error
from ..guard import guarded
from ..messages import OpenAdopt, OpenDashboard, OpenLaunch, OpenQueue
from ..widgets.plain_table import PlainTable

if TYPE_CHECKING:  # types only: the app hands the profiles in
    from ...config.profiles import Profile, ProfileError

    # Every profile by name, each loaded or with the error that stops it from loading.
    ProfileList = Callable[[], list[tuple[str, Profile | ProfileError]]]


class RunsScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "refresh", "Refresh", show=False, id="runs.refresh"),
        Binding("p", "preflight", "Preflight", id="runs.preflight"),
        Binding("f", "fix", "Apply fix", id="runs.fix"),
        Binding("escape", "back", "Hosts", id="runs.back"),
        Binding("space", "mark", "Mark run", show=False, id="runs.mark"),
        Binding("v", "compare", "Compare marked", id="runs.compare"),
        Binding("a", "adopt", "Adopt a run", show=False, id="runs.adopt"),
        Binding("j", "queue", "Slurm queue", show=False, id="runs.queue"),
    ]

    class CompareMarked(Message):
        """Compare the marked runs (the app opens the comparison)."""

        def __init__(self, marks: RunMarks) -> None:
            super().__init__()
            self.marks = marks

    def __init__(
        self,
        client: AgentClient,
        profiles: ProfileList,
        marks: RunMarks | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.list_profiles = profiles
        # Marks outlive this screen (the app's, so runs of several hosts add up).
        self.marks = marks if marks is not None else RunMarks()
        self.run_records: dict[str, RunSummary] = {}
        self.profiles: dict[str, Profile | ProfileError] = {}
        self.checks: list[dict[str, Any]] = []
        self.checked: Profile | None = None

    def compose(self) -> ComposeResult:
        yield Static(
            f"Profiles for {self.client.host}: Enter opens the launch form", classes="title"
        )
        yield PlainTable(cursor_type="row", zebra_stripes=True, id="profiles")
        yield Static("Checklist", classes="title", id="checks-title", markup=False)
        yield PlainTable(cursor_type="row", zebra_stripes=True, id="checks")
        yield Static(id="check-detail", markup=False)  # the highlighted check: detail, hint, fix
        yield Static(classes="title", id="runs-title", markup=False)  # its text: _show_marked
        yield PlainTable(cursor_type="row", zebra_stripes=True, id="runs")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#profiles", DataTable).add_columns("profile", "command")
        self.query_one("#checks", DataTable).add_columns("", "check", "detail")
        runs = self.query_one("#runs", DataTable)
        runs.add_column(" ", key="mark")
        runs.add_columns("run", "status", "started", "command")
        self._show_marked()
        self.action_refresh()

    def _fill_profiles(self) -> None:
        table = self.query_one("#profiles", DataTable)
        table.clear()
        self.profiles = dict(self.list_profiles())
        for name, p in self.profiles.items():
            if isinstance(p, Exception):  # a ProfileError: the profile does not load
                table.add_row(name, f"! {p}"[:100], key=name)
            else:
                table.add_row(name, " ".join(p.command).replace("\n", " ⏎ ")[:100], key=name)

    @work(exclusive=True, group="runs")
    @guarded("Listing the runs")
    async def action_refresh(self) -> None:
        self._fill_profiles()
        runs = await self.client.runs()
        table = self.query_one("#runs", DataTable)
        table.clear()
        self.run_records = {r["id"]: r for r in runs}
        for r in sorted(runs, key=lambda r: r.get("started_at") or 0, reverse=True):
            status = r["status"]
            if r.get("exit_code_known") is False and status != "running":  # adopted
                status += " (exit code unknown)"
            elif status in ("exited", "stopped"):
                status += f" ({r.get('exit_code')})"
            table.add_row(
                self._mark_of(r["id"]),
                r["id"],
                status,
                human_duration(time.time() - started if (started := r.get("started_at")) else None),
                " ".join(r.get("argv") or []).replace("\n", " ⏎ ")[:80],  # as the profiles
                key=r["id"],
            )
        if any(r["status"] == "running" for r in runs) or not self.profiles:
            table.focus()  # a live run is what a user comes back for

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value)
        if event.data_table.id == "runs":
            self.post_message(OpenDashboard(self.client, key))
            return
        profile = self.profiles.get(key)
        if isinstance(profile, Exception):
            self.notify(f"{profile}", title="This profile does not load", severity="error")
        elif profile is not None:
            self.post_message(OpenLaunch(self.client, profile))

    def _highlighted_profile(self) -> Profile | None:
        table = self.query_one("#profiles", DataTable)
        if not table.row_count:
            return None
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        profile = self.profiles.get(key)
        if isinstance(profile, Exception):
            self.notify(str(profile), title="This profile does not load", severity="error")
            return None
        return profile

    def action_preflight(self) -> None:
        profile = self._highlighted_profile()
        if profile is not None:
            self.preflight(profile)

    @work(exclusive=True, group="preflight")
    @guarded("The preflight checks")
    async def preflight(self, profile: Profile) -> None:
        title = self.query_one("#checks-title", Static)
        title.add_class("-shown")
        title.update(f"Checklist of {profile.name} on {self.client.host}: checking...")
        try:
            self.checks = await run_checks(self.client, profile)
        except Exception as exc:  # the agent's refusal or a lost link: said, not raised
            title.update(f"Checklist of {profile.name}: {getattr(exc, 'message', exc)}")
            return
        self.checked = profile
        table = self.query_one("#checks", DataTable)
        table.add_class("-shown")
        table.clear()
        for i, c in enumerate(self.checks):
            mark = c["status"].upper() if c["status"] != "skip" else "skip"
            table.add_row(mark, c["title"], c["detail"], key=str(i))
        detail = self.query_one("#check-detail", Static)
        detail.add_class("-shown")
        if self.checks:
            detail.update(check_text(self.checks[min(table.cursor_row, len(self.checks) - 1)]))
        counts = summary(self.checks)
        title.update(
            f"Checklist of {profile.name} on {self.client.host}: "
            + ", ".join(f"{n} {k}" for k, n in counts.items() if n)
            + "   (f applies the highlighted check's fix, p checks again)"
        )
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "checks" and 0 <= event.cursor_row < len(self.checks):
            self.query_one("#check-detail", Static).update(
                check_text(self.checks[event.cursor_row])
            )

    def action_fix(self) -> None:
        table = self.query_one("#checks", DataTable)
        if not self.checks or not table.row_count or self.checked is None:
            self.notify("run the checklist first (p)", severity="warning")
            return
        check = self.checks[table.cursor_row]
        if not check.get("fix") or check["status"] == "pass":
            if check["status"] in ("pass", "skip"):
                self.notify(f"{check['title']}: nothing to fix here", severity="warning")
            else:
                self.notify(f"{check['title']}: {by_hand(check)}", severity="warning", timeout=20)
            return
        self.fix(self.checked, check)

    @work(exclusive=True, group="fix")
    @guarded("Applying the fix")
    async def fix(self, profile: Profile, check: dict[str, Any]) -> None:
        """Show what the fix will do (for the statistics, the computed change, from a dry
        run), apply it after a `y`, then check again."""
        question = f"{check['title']}: {check['fix']['label']} on {self.client.host}?"
        try:
            if check["fix"]["op"] == "stats":
                self.notify("Computing the statistics (dry run)...")
                dry = dict(check, fix=dict(check["fix"], args={"write": False}))
                preview = await apply_fix(self.client, profile, dry)
                question += "\n\n" + "\n".join(
                    [f"{preview['path']}:", *preview["changes"], *preview["problems"]]
                )
            yes = await self.app.push_screen(Confirm(question), None, wait_for_dismiss=True)
            if not yes:
                return
            result = await apply_fix(self.client, profile, check)
        except Exception as exc:  # shown with the agent's hint; nothing was changed
            notify_error(self, exc)
            return
        done = result.get("done") or "; ".join(result.get("changes") or []) or "done"
        if result.get("backup"):
            done += f" (backup {result['backup']})"
        self.notify(f"{check['title']}: {done}", timeout=15)
        self.preflight(profile)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_queue(self) -> None:
        self.post_message(OpenQueue(self.client))

    def _mark_of(self, run_id: str) -> str:
        return "●" if self.marks is not None and (self.client.host, run_id) in self.marks else ""

    def action_mark(self) -> None:
        table = self.query_one("#runs", DataTable)
        if not table.row_count or self.marks is None:
            return
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        self.marks.toggle(self.client.host, self.run_records[key], self.client)
        table.update_cell(key, "mark", self._mark_of(key))
        self._show_marked()
        table.move_cursor(row=table.cursor_row + 1)
        table.focus()

    def _show_marked(self) -> None:
        """The runs title counts the marks of every host, since this screen shows one."""
        count = len(self.marks) if self.marks is not None else 0
        self.query_one("#runs-title", Static).update(
            f"Runs on {self.client.host}: Enter opens one, space marks, v compares, Esc goes back"
            + (f"  ({count} marked on all hosts)" if count else "")
        )

    def action_adopt(self) -> None:
        """Pick a run started by hand (tmux, nohup) and watch it like one of ours."""

        def adopted(run_id: str | None) -> None:
            if run_id:
                self.action_refresh()
                self.post_message(OpenDashboard(self.client, run_id))

        self.post_message(OpenAdopt(self.client, adopted))

    def action_compare(self) -> None:
        if self.marks is None or len(self.marks) < 2:
            self.notify(
                "mark two runs or more with space (on any host), then v", severity="warning"
            )
            return
        self.post_message(self.CompareMarked(self.marks))
