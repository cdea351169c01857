"""Per-GPU cards: utilisation, memory, power and temperature over a window the user widens
(``t``: one minute to a day), the processes on each GPU and whether they are the run's, and a
highlight on a GPU that lags the others. Without a driver: why, and the host's CPU and memory.

The pane keeps its own history (``TieredSeries``, bounded) from the samples it is shown, so
the agent's replay of the last hour on attach fills the charts at once.
"""

from __future__ import annotations

from statistics import mean
from typing import Any

from textual.markup import escape
from textual.widgets import Static

from ...core.alerts import laggards
from ...core.series import TieredSeries
from ...core.units import human_duration
from ...protocol.messages import Gpu, GpuSample
from .sparkline import spark

WINDOWS = (60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 24 * 3600.0)
LAG_WINDOW_S = 30.0
UTIL, MEM, POWER, TEMP = range(4)


def _gib(n: Any) -> str:
    return "-" if n is None else f"{n / (1 << 30):.1f}"


def _num(n: Any, unit: str) -> str:
    return "-" if n is None else f"{n:.0f}{unit}"


def _label(g: Gpu) -> str:
    """A GPU's name on the pane: its index, or under Slurm its node and its index there."""
    return f"{g['node']}:{g.get('node_index')}" if g.get("node") else str(g["index"])


class GpuPane(Static):
    DEFAULT_CSS = """
    GpuPane {
        padding: 0 1; border: round $primary; height: 100%;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    GpuPane.-summary { border: none; height: auto; max-height: 4; background: $panel; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.window = WINDOWS[1]
        self.gpu_series: dict[int, TieredSeries] = {}
        self.host_series = TieredSeries()
        self.last: GpuSample | None = None
        self.run_id: str | None = None
        self.lagging: list[int] = []
        self._pending = False
        # Small terminals: one summary row for all GPUs instead of cards (the dashboard sets
        # the -summary class with it).
        self.summary = False

    def set_summary(self, on: bool) -> None:
        self.summary = on
        self.set_class(on, "-summary")
        self._render_last()

    def cycle_window(self) -> None:
        self.window = WINDOWS[(WINDOWS.index(self.window) + 1) % len(WINDOWS)]
        self._render_last()

    def show(self, sample: GpuSample, run_id: str | None) -> None:
        """Record a sample. Painting waits a tenth of a second, so the hour of samples the
        agent replays on attach costs one paint, not 3600."""
        t = float(sample.get("t") or 0.0)
        host = sample.get("host") or {}
        mem_total = host.get("mem_total")
        self.host_series.add(
            t,
            (
                host.get("cpu_percent"),
                None if not mem_total else 100.0 * (host.get("mem_used") or 0) / mem_total,
            ),
        )
        for g in sample.get("gpus") or []:
            total = g.get("mem_total")
            used = g.get("mem_used")
            self.gpu_series.setdefault(int(g["index"]), TieredSeries()).add(
                t,
                (
                    g.get("util"),
                    None if not total or used is None else 100.0 * used / total,
                    g.get("power"),
                    g.get("temp"),
                ),
            )
        self.last, self.run_id = sample, run_id
        if not self._pending:
            self._pending = True
            self.set_timer(0.1, self._render_last)

    def run_gpus(self, sample: GpuSample) -> list[Gpu]:
        """The GPUs the run has processes on; all of them when none is tagged (yet)."""
        gpus = sample.get("gpus") or []
        ours = [
            g for g in gpus if any(p.get("run") == self.run_id for p in g.get("processes") or [])
        ]
        return ours or list(gpus)

    def _laggards(self, sample: GpuSample) -> list[int]:
        means: dict[int, float] = {}
        for g in self.run_gpus(sample):
            window = self.gpu_series[int(g["index"])].window(LAG_WINDOW_S)
            utils = [u for _, v in window if (u := v[UTIL]) is not None]
            if utils:
                means[int(g["index"])] = mean(utils)
        return laggards(means)

    def _render_last(self) -> None:
        self._pending = False
        if self.last is not None:
            # Judged at paint time, once per paint: not for each of the hour of samples the
            # agent replays on attach.
            self.lagging = self._laggards(self.last)
            # Its size is the layout's (height 100%), except as a summary (height auto): only
            # then can a new sample change the screen's layout.
            self.update(self.render_text(self.last), layout=self.summary)

    def render_text(self, sample: GpuSample) -> str:
        if self.summary:
            return self.summary_text(sample, max(20, self.content_size.width or 78))
        width = max(20, self.content_size.width or 60)
        height = max(3, self.content_size.height or 20)
        gpus = sample.get("gpus") or []
        now = float(sample.get("t") or 0.0)
        start = now - self.window
        half = max(4, (width - 5) // 2)
        host = sample.get("host") or {}
        hs = self.host_series.window(self.window, now)
        names = sorted({str(g.get("name")) for g in gpus})
        model = f"{len(gpus)} x {names[0]}" if len(names) == 1 else f"{len(gpus)} GPUs"
        nodes = sample.get("nodes") or []  # a Slurm job's nodes (the first one's host stats)
        where = f" on {escape(','.join(nodes))}" if nodes else ""
        lines = [
            f"[b]{escape(model) if gpus else 'host'}[/b]{where}  "
            f"window {human_duration(self.window)} [dim]\\[t][/dim]",
            f"{escape(nodes[0]) + ' ' if nodes else ''}"
            f"CPU {_num(host.get('cpu_percent'), '%')} of {host.get('cpus')}  "
            f"mem {_gib(host.get('mem_used'))}/{_gib(host.get('mem_total'))}G",
        ]
        if not gpus and not host:  # a Slurm job's nodes that did not answer: say why, only
            lines[1] = f"[$warning]No GPUs: {escape(str(sample.get('reason') or 'none'))}[/]"
            return "\n".join(lines)
        if not gpus:
            lines.append(f"[$warning]No GPUs: {escape(str(sample.get('reason') or 'none'))}[/]")
            lines.append(f"cpu {spark(hs, 0, start, self.window, width - 4, 100.0)}")
            lines.append(f"mem {spark(hs, 1, start, self.window, width - 4, 100.0)}")
            return "\n".join(lines)
        if sample.get("simulated") and "SIMULATED" not in model:
            lines[0] += "  [$warning]SIMULATED[/]"
        per_card = max(1, min(4, (height - 2) // len(gpus)))
        for g in gpus:
            lines.extend(self._card(g, start, half, per_card))
        return "\n".join(lines)

    def summary_text(self, sample: GpuSample, width: int) -> str:
        """Every GPU in a few words, as many to a line as fit: utilisation, memory,
        temperature, power, and whether the run is on it or it lags."""
        gpus = sample.get("gpus") or []
        host = sample.get("host") or {}
        if not gpus:
            reason = escape(str(sample.get("reason") or "none"))
            return (
                f"[$warning]No GPUs[/] ({reason})  CPU {_num(host.get('cpu_percent'), '%')} "
                f"mem {_gib(host.get('mem_used'))}/{_gib(host.get('mem_total'))}G"
            )
        cells = []
        for g in gpus:
            index = int(g["index"])
            text = (
                f"{_label(g)}:{_num(g.get('util'), '%')} {_gib(g.get('mem_used'))}G "
                f"{_num(g.get('temp'), 'C')} {_num(g.get('power'), 'W')}"
            )
            ours = any(p.get("run") == self.run_id for p in g.get("processes") or [])
            shown = f"[reverse $warning]{text} LAGS[/]" if index in self.lagging else text
            cells.append((len(text) + (5 if index in self.lagging else 0), shown, ours))
        label = "GPU SIMULATED " if sample.get("simulated") else "GPU "
        lines, line, used = [], label, len(label)
        for size, shown, ours in cells:
            if used + size + 3 > width and used > len(label):
                lines.append(line)
                line, used = " " * len(label), len(label)
            line += shown + ("[$success]*[/]  " if ours else "   ")
            used += size + 3
        lines.append(line.rstrip())
        return "\n".join(lines)

    def _card(self, g: Gpu, start: float, half: int, rows: int) -> list[str]:
        index = int(g["index"])
        procs = g.get("processes") or []
        ours = [p for p in procs if p.get("run") == self.run_id and self.run_id]
        others = [p for p in procs if p not in ours]
        lag = index in self.lagging
        head = (
            f"[b]{_label(g)}[/b] {_num(g.get('util'), '%'):>4} "
            f"{_gib(g.get('mem_used'))}/{_gib(g.get('mem_total'))}G "
            f"{_num(g.get('temp'), 'C')} {_num(g.get('power'), 'W')}"
        )
        if ours:
            head += " [$success]run[/]"
        if others:
            head += f" [$warning]+{len(others)} other[/]"
        if lag:
            head = f"[reverse $warning]{head} LAGS[/]"
        out = [head]
        samples = self.gpu_series[index].window(self.window)
        power_top = float(g.get("power_limit") or 0) or max(
            (v[POWER] or 0.0 for _, v in samples), default=1.0
        )
        if rows >= 2:
            out.append(
                f"u {spark(samples, UTIL, start, self.window, half, 100.0)} "
                f"m {spark(samples, MEM, start, self.window, half, 100.0)}"
            )
        if rows >= 3:
            out.append(
                f"p {spark(samples, POWER, start, self.window, half, power_top)} "
                f"t {spark(samples, TEMP, start, self.window, half, 100.0)}"
            )
        if rows >= 4 and procs:
            out.append(
                "  "
                + " ".join(
                    f"pid {p.get('pid')} {'run' if p in ours else 'other'} {_gib(p.get('mem'))}G"
                    for p in procs[:6]
                )
            )
        return out
