"""Adopt a run started by hand: the training processes the host's agent sees outside our
runs (python under accelerate/torchrun/deepspeed, or holding a GPU), with their command
line, working directory and log file. Enter adopts the highlighted one; one whose output
goes to a terminal needs the path of its log file typed first. Dismissed with the new run's
id (None when cancelled)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from ...client import AgentClient
from ...protocol.messages import Candidate
from ..guard import guarded
from ..widgets.plain_table import PlainTable


class AdoptScreen(ModalScreen["str | None"]):
    BINDINGS = [
        Binding("r", "refresh", "Look again", id="adopt.refresh"),
        Binding("escape", "cancel", "Cancel", id="adopt.cancel"),
    ]

    def __init__(self, client: AgentClient) -> None:
        super().__init__()
        self.client = client
        self.found: dict[str, Candidate] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                f"[b]Runs started by hand on {escape(self.client.host)}[/b]: Enter adopts the "
                "highlighted one (its log is read, never written; its exit code cannot be "
                "known), r looks again, Esc cancels",
                id="adopt-title",
            )
            yield PlainTable(cursor_type="row", zebra_stripes=True, id="candidates")
            yield Input(placeholder="log file (only when its output goes to a terminal)", id="log")
            yield Static("", id="adopt-error", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#candidates", DataTable)
        table.add_columns("pid", "procs", "gpu", "log", "cwd", "command")
        self.action_refresh()

    @work(exclusive=True, group="candidates")
    @guarded("Listing the training processes")
    async def action_refresh(self) -> None:
        found = await self.client.candidates()
        table = self.query_one("#candidates", DataTable)
        table.clear()
        self.found = {str(c["pid"]): c for c in found}
        for c in found:
            log = c.get("log") or f"({c.get('stdout')}: type its log below)"
            held = f" (run {c['run']})" if c.get("run") else ""
            table.add_row(
                str(c["pid"]),
                str(c.get("processes")),
                "yes" if c.get("gpu") else "",
                log,
                str(c.get("cwd")),
                " ".join(c.get("argv") or [])[:120] + held,
                key=str(c["pid"]),
            )
        self.query_one("#adopt-error", Static).update(
            "" if found else "no training process of yours outside rdt-tui's runs"
        )
        table.focus()

    def _highlighted(self) -> Candidate | None:
        table = self.query_one("#candidates", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.found.get(str(key))

    @on(DataTable.RowSelected, "#candidates")
    @on(Input.Submitted, "#log")
    def chosen(self) -> None:
        cand = self._highlighted()
        if cand is None:
            return
        log = self.query_one("#log", Input).value.strip() or None
        if cand.get("log") is None and log is None:
            self.query_one("#adopt-error", Static).update(
                f"process {cand['pid']}: its output goes to a {cand.get('stdout')}, not a "
                "file: type the path of the log file it writes, then Enter"
            )
            self.query_one("#log", Input).focus()
            return
        self.adopt(int(cand["pid"]), log)

    @work(exclusive=True, group="adopt")
    @guarded("Adopting the run")
    async def adopt(self, pid: int, log: str | None) -> None:
        try:
            run = await self.client.adopt(pid, log)
        except Exception as exc:  # the agent's refusal, with its hint: said, not raised
            hint = getattr(exc, "hint", "")
            self.query_one("#adopt-error", Static).update(
                f"{getattr(exc, 'message', exc)}" + (f"\nhint: {hint}" if hint else "")
            )
            return
        self.dismiss(str(run["id"]))

    def action_cancel(self) -> None:
        self.dismiss(None)
