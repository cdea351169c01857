"""Every connected host's GPUs on one screen, one compact row per GPU.

One worker per host follows that host's GPU samples (latest only: no history is replayed);
samples only update a dict, and a timer repaints the rows that changed once a second, so 32
hosts x 8 GPUs cost one table update per second, not 256 repaints.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...client import AgentClient
from ...protocol.messages import Gpu, GpuSample
from ..errors import error_title
from ..guard import guarded
from ..widgets.plain_table import PlainTable

COLUMNS = ("host", "gpu", "model", "util", "memory", "temp", "power", "runs")
REPAINT_S = 1.0


def natural(cells: tuple[str, ...]) -> tuple[tuple[str | int, ...], ...]:
    """Cells as they read: digits as numbers, so GPU 10 comes after GPU 2 and node n10
    after n2 (text order puts "10" first)."""
    return tuple(
        tuple(int(p) if i % 2 else p for i, p in enumerate(re.split(r"(\d+)", str(c))))
        for c in cells
    )


def util_bar(util: Any, width: int = 10) -> str:
    if util is None:
        return "-"
    filled = max(0, min(width, round(util / 100 * width)))
    return "█" * filled + "░" * (width - filled) + f" {util:>3.0f}%"


def gpu_cells(host: str, sample: GpuSample, g: Gpu) -> tuple[str, ...]:
    index = g["index"] if g.get("node_index") is None else g["node_index"]  # on its node
    mem_used, mem_total = g.get("mem_used"), g.get("mem_total")
    mem = (
        "-"
        if mem_used is None or not mem_total
        else f"{mem_used / (1 << 30):.0f}/" + (f"{mem_total / (1 << 30):.0f}G")
    )
    runs = sorted({str(p.get("run")) for p in g.get("processes") or [] if p.get("run")})
    others = sum(1 for p in g.get("processes") or [] if not p.get("run"))
    name = str(g.get("name"))
    if sample.get("simulated") and "SIMULATED" not in name:
        name = "SIMULATED " + name
    return (
        host,
        str(index),
        name[:22],
        util_bar(g.get("util")),
        mem,
        "-" if g.get("temp") is None else f"{g['temp']:.0f}C",
        "-" if g.get("power") is None else f"{g['power']:.0f}W",
        " ".join(runs) + (f" +{others} other" if others else "") or "-",
    )


class ClusterScreen(Screen[None]):
    BINDINGS = [Binding("escape", "back", "Hosts", id="cluster.back")]

    def __init__(
        self, hosts: list[str], connect: Callable[[str], Any], runs: dict[str, str] | None = None
    ) -> None:
        super().__init__()
        self.hosts = hosts
        self.connect = connect
        self.runs = runs or {}  # host -> a Slurm run: its job's nodes' GPUs, not the host's
        self.latest: dict[str, GpuSample] = {}
        self.errors: dict[str, str] = {}
        self._changed: set[str] = set()
        self._rows: dict[str, int] = {}  # host -> GPU rows it has in the table

    def compose(self) -> ComposeResult:
        yield Static(f"GPUs of {len(self.hosts)} hosts: Esc goes back", id="title", markup=False)
        yield PlainTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in COLUMNS:
            table.add_column(col, key=col)
        for host in self.hosts:
            self.follow(host)
        self.set_interval(REPAINT_S, self.repaint)

    @work(group="cluster")
    @guarded("Following the cluster's GPUs")
    async def follow(self, host: str) -> None:
        try:
            client: AgentClient = await self.connect(host)
            run = self.runs.get(host)
            if run is None:
                sub = await client.subscribe(None, since={"gpu": -1}, gpu=True)
            else:
                sub = await client.subscribe_gpus_of(run)
            async for ev in sub:
                if ev["event"] == "gpu":
                    self.latest[host] = ev["data"]
                    self._changed.add(host)
        except Exception as exc:  # one dead host is a row of its own, not a crash
            self.errors[host] = f"{error_title(exc)}: {exc}"
            self._changed.add(host)

    def repaint(self) -> None:
        if not self._changed:
            return
        table = self.query_one(DataTable)
        changed, self._changed = self._changed, set()
        for host in self.hosts:
            if host not in changed:
                continue
            sample = self.latest.get(host)
            label = self._label(host, sample)
            if host in self.errors or not sample or not sample.get("gpus"):
                why = self.errors.get(host) or (sample or {}).get("reason") or "no GPUs"
                rows: list[tuple[str, tuple[str, ...]]] = [
                    (f"{host}/-", (label, "-", str(why)[:60], "", "", "", "", ""))
                ]
            else:
                rows = [
                    (f"{host}/{g['index']}", gpu_cells(self._label(host, sample, g), sample, g))
                    for g in sample["gpus"]
                ]
            self._place(table, host, rows)
        self.query_one("#title", Static).update(
            f"GPUs of {len(self.hosts)} hosts, {sum(self._rows.values())} rows: Esc goes back"
        )

    def _label(self, host: str, sample: GpuSample | None, g: Gpu | None = None) -> str:
        """The host column: ``host:node`` for a GPU of a Slurm job's node (its ``gpu`` cell is
        its index on that node); a host shown for a Slurm run by an agent that cannot reach the
        job's nodes says that these GPUs are the login node's."""
        if host not in self.runs or sample is None:
            return host
        if not sample.get("job"):
            return f"{host} (login node)"
        return f"{host}:{g['node']}" if g is not None and g.get("node") else host

    def _place(
        self, table: DataTable[str], host: str, rows: list[tuple[str, tuple[str, ...]]]
    ) -> None:
        keys = {k.value for k in table.rows}
        wanted = {key for key, _ in rows}
        added = False
        for key in [k for k in keys if k and k.startswith(host + "/") and k not in wanted]:
            table.remove_row(key)
        for key, cells in rows:
            if key in keys:
                for col, value in zip(COLUMNS, cells, strict=True):
                    table.update_cell(key, col, value)
            else:
                table.add_row(*cells, key=key)
                added = True
        if added:
            table.sort("host", "gpu", key=natural)  # hosts answer in any order
        self._rows[host] = len(rows)

    def action_back(self) -> None:
        self.app.pop_screen()
