"""The hosts screen (where ``rdt-tui`` opens): every known host with its live status.

Each host is checked by its own worker (connect, deploy, hello, GPUs, runs), so one slow or
dead host never holds up the others. Enter opens the host's runs; ``a``/``e`` add and edit a
host, ``t`` trusts its keys hop by hop, ``r`` tests the connections again, ``c`` shows every
connected host's GPUs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...client import AgentClient
from ..confirm import Confirm
from ..errors import error_title, notify_error
from ..guard import guarded
from ..host_form import HostForm
from ..messages import OpenCluster, OpenRuns
from ..widgets.fit_table import FitTable

COLUMNS = ("host", "address", "jump", "status", "agent", "gpus", "runs")


@dataclass
class HostRow:
    name: str
    address: str
    jump: str


# Asked once per hop whose key is not known yet: (hop label, SHA256 fingerprint) -> trust it?
AskTrust = Callable[[str, str], Awaitable[bool]]


@dataclass
class HostActions:
    """What the screen may do to the host list; ``cli/console.py`` wires them to the config
    files and the SSH transport, tests to whatever they check."""

    rows: Callable[[], list[HostRow]]
    values: Callable[[str], dict[str, Any]]
    save: Callable[[dict[str, Any], str | None], None]  # raises with a message to show
    trust: Callable[[str, AskTrust], Awaitable[list[tuple[str, str, str]]]]


class HostsScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "refresh", "Test again", id="hosts.refresh"),
        Binding("a", "add", "Add host", id="hosts.add"),
        Binding("e", "edit", "Edit host", id="hosts.edit"),
        Binding("t", "trust", "Trust keys", id="hosts.trust"),
        Binding("c", "cluster", "Cluster", show=False, id="hosts.cluster"),
    ]

    def __init__(
        self,
        hosts: list[HostRow],
        connect: Callable[[str], Any],
        actions: HostActions | None = None,
        forget: Callable[[str], Any] | None = None,
    ) -> None:
        super().__init__()
        self.hosts = hosts
        self.connect = connect
        self.actions = actions
        self.forget = forget  # drops a host's cached connection after an edit or a trust
        self.status: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static(
            "Hosts: Enter opens a host's runs, a adds, e edits, t trusts, c shows all GPUs",
            id="title",
        )
        # At 80 columns every column stays on screen: the widest texts are cut (Enter on an
        # unreachable host still says why in full).
        yield FitTable(COLUMNS, cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self._fill()

    def _fill(self) -> None:
        self.query_one(FitTable).set_rows(
            {
                host.name: (host.name, host.address, host.jump or "-", "checking...", "-", "-", "-")
                for host in self.hosts
            }
        )
        self.action_refresh()

    def action_refresh(self) -> None:
        for host in self.hosts:
            self._set(host.name, status="checking...")
            self.check(host.name)

    def _set(self, name: str, **cells: str) -> None:
        # A reason, a build: whole where the width allows. A host the list no longer has
        # (edited away while it was checked) has no row.
        if self.query_one(FitTable).set_cells(name, **cells) and "status" in cells:
            self.status[name] = cells["status"]

    @work(group="check")
    @guarded("Checking the host")
    async def check(self, name: str) -> None:
        try:
            client: AgentClient = await self.connect(name)
            gpus = (await client.gpus())["samples"][-1]
            runs = [r for r in await client.runs() if r["status"] == "running"]
        except Exception as exc:  # every failure is a status to show, not a crash
            self._set(name, status=f"{error_title(exc)}: {getattr(exc, 'message', exc)}"[:80])
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
    @guarded("Opening the host")
    async def open_host(self, name: str) -> None:
        client = await self.connect(name)
        self.post_message(OpenRuns(client))

    def selected(self) -> str | None:
        return self.query_one(FitTable).selected()

    def action_add(self) -> None:
        self._form("Add a host", {}, None)

    def action_edit(self) -> None:
        name = self.selected()
        if name is None or self.actions is None:
            return
        if name == "localhost":
            self.notify("localhost is this machine: nothing to edit", severity="warning")
            return
        self._form(f"Edit {name}", self.actions.values(name), name)

    def _form(self, title: str, values: dict[str, Any], replaces: str | None) -> None:
        actions = self.actions
        if actions is None:
            self.notify("hosts cannot be edited here", severity="warning")
            return

        def save(fields: dict[str, Any]) -> str | None:
            try:
                actions.save(fields, replaces)
            except Exception as exc:  # the file's own rules: shown in the form
                return str(exc)
            return None

        def saved(fields: dict[str, Any] | None) -> None:
            if fields is None:
                return
            for name in {fields["name"], replaces} - {None}:
                self.status.pop(str(name), None)
                if self.forget is not None:
                    self.forget(str(name))
            self.hosts = actions.rows()
            self._fill()
            self.notify(f"Saved {fields['name']}; testing it")

        self.app.push_screen(HostForm(title, values, save), saved)

    def action_trust(self) -> None:
        name = self.selected()
        if name is None or self.actions is None or name == "localhost":
            return
        self.trust(name)

    @work(group="trust", exclusive=True)
    @guarded("Trusting the host key")
    async def trust(self, name: str) -> None:
        assert self.actions is not None

        async def ask(hop: str, fingerprint: str) -> bool:
            question = (
                f"The host key of {hop} is not known.\n\n  {fingerprint}\n\n"
                "Compare it with the one your admin gave you (or `ssh-keygen -lf` on the "
                "host). Trust it and add it to known_hosts?"
            )
            answer: bool = await self.app.push_screen(
                Confirm(question), None, wait_for_dismiss=True
            )
            return bool(answer)

        try:
            results = await self.actions.trust(name, ask)
        except Exception as exc:  # a changed key or a dead hop: say which and why
            notify_error(self, exc)
            return
        summary = ", ".join(f"{hop} {outcome}" for hop, _, outcome in results)
        self.notify(f"Host keys: {summary}")
        if self.forget is not None:
            self.forget(name)
        self._set(name, status="checking...")
        self.check(name)

    def action_cluster(self) -> None:
        reachable = [h.name for h in self.hosts if self.status.get(h.name) == "reachable"]
        if not reachable:
            self.notify("no host is reachable yet", severity="warning")
            return
        self.post_message(OpenCluster(reachable, self.connect))
