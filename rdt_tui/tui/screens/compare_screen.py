"""Runs side by side: one metric of every marked run in one chart, aligned by step or by
seconds since each run's start (``t``), one colour each, with a legend naming each run, its
profile and what differs in how the runs were launched. ``m`` picks among the metrics every
run reports, ``g`` a log scale.

The screen gets the runs (records with their ``host``) and one callable that reads a page of a
run's metric points; it imports neither config nor transport, so the runs may live on
several hosts and tests pass what they check. New points are read every few seconds, only
after the last read finished, and only what came since.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import Footer, Static

from ...core.compare import STEP, TIME, Column, by_step, by_time, legend_lines, shared_names
from ..errors import error_title
from ..guard import guarded
from ..widgets.compare_chart import CompareChart, Curve
from ..widgets.loss_chart import Series

# (run record, since seq) -> {"points": [...], "last_seq": n}, as AgentClient.metrics answers.
FetchPage = Callable[[dict[str, Any], int], Awaitable[dict[str, Any]]]

# One theme variable per run, in marking order; past six they repeat (the legend still says
# which line is which run by its order).
COLORS = ("primary", "secondary", "accent", "warning", "success", "error")
POLL_S = 5.0
# The time axis in the largest unit that the longest run spans twice.
TIME_UNITS = (("hours", 3600.0), ("minutes", 60.0), ("seconds", 1.0))


class CompareScreen(Screen[None]):
    BINDINGS = [
        Binding("m", "metric", "Metric", id="compare.metric"),
        Binding("t", "axis", "Step / time", id="compare.axis"),
        Binding("g", "log", "Log scale", id="compare.log"),
        Binding("escape", "back", "Back", id="compare.back"),
    ]

    def __init__(self, runs: list[dict[str, Any]], fetch: FetchPage, poll_s: float = POLL_S):
        super().__init__()
        self.runs = runs
        self.fetch = fetch
        self.poll_s = poll_s
        self.series: list[dict[str, Series]] = [{} for _ in runs]
        self.since = [0] * len(runs)
        self.problems = [""] * len(runs)
        self.by = STEP
        self.metric: str | None = None
        self.legend = legend_lines(runs)
        self.loaded = False  # every run was read at least once (tests wait on it)

    def compose(self) -> ComposeResult:
        yield Static(
            f"Comparing {len(self.runs)} runs: m metric, t step/time, g log scale, Esc back",
            id="compare-title",
        )
        yield CompareChart(id="compare-chart")
        yield Static(id="legend")
        yield Footer()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self.draw()
        self.poll()

    def _theme_changed(self, _theme: Theme) -> None:
        self.draw()

    @work(exclusive=True, group="compare")
    @guarded("Reading the compared runs")
    async def poll(self) -> None:
        while True:
            # All runs at once: a slow host does not hold up the others' curves.
            results = await asyncio.gather(
                *(self._read(i, run) for i, run in enumerate(self.runs)), return_exceptions=True
            )
            changed = False
            for i, result in enumerate(results):
                before = self.problems[i]
                if isinstance(result, BaseException):  # a host that went away: in its legend
                    message = getattr(result, "message", None) or str(result)
                    self.problems[i] = f"{error_title(result)}: {message}"
                else:
                    changed |= bool(result)
                    self.problems[i] = ""
                changed |= self.problems[i] != before
            if changed or not self.loaded:
                self.loaded = True
                self.draw()
            if self.poll_s <= 0:
                return
            await asyncio.sleep(self.poll_s)

    async def _read(self, i: int, run: dict[str, Any]) -> bool:
        """Every point of run ``i`` since the last read, page by page; True when any came."""
        got = False
        while True:
            page = await self.fetch(run, self.since[i])
            for p in page["points"]:
                value = p["value"]
                if p.get("step") is None or not isinstance(value, (int, float)):
                    continue
                series = self.series[i].setdefault(str(p["name"]), Series())
                t = p.get("t")
                series.add(int(p["step"]), float(value), math.nan if t is None else float(t))
                got = True
            if page["last_seq"] == self.since[i]:
                return got
            self.since[i] = page["last_seq"]

    def shared(self) -> list[str]:
        """The metrics every run with points reports."""
        return shared_names([s.keys() for s in self.series if s])

    def column(self, i: int) -> Column:
        series = self.series[i].get(self.metric or "")
        if series is None:
            return []
        if self.by == STEP:
            return by_step(zip(series.steps, series.values, strict=True))
        times = (None if math.isnan(t) else t for t in series.times)
        return by_time(zip(times, series.values, strict=True), self.runs[i].get("started_at"))

    def draw(self) -> None:
        names = self.shared()
        if self.metric not in names:
            self.metric = "loss" if "loss" in names else (names[0] if names else None)
        colors = self.run_colors()
        chart = self.query_one(CompareChart)
        columns = [self.column(i) for i in range(len(self.runs))]
        axis, per = "step", 1.0
        if self.by == TIME:
            longest = max((x for col in columns for x, _ in col), default=0.0)
            unit, per = next((u, d) for u, d in TIME_UNITS if longest >= 2 * d or d == 1)
            axis = f"{unit} since start"
        chart.curves = [
            Curve([x / per if per != 1 else x for x, _ in col], [y for _, y in col], colors[i])
            for i, col in enumerate(columns)
        ]
        if self.metric is None:
            chart.title = "no metric is reported by every run yet" if self.loaded else "reading"
        else:
            at = names.index(self.metric) + 1
            chart.title = f"{self.metric} ({at}/{len(names)} shared)  by {axis}"
            if chart.log_scale:
                chart.title += "  log"
        chart.xlabel = axis
        chart.redraw()
        self.query_one("#legend", Static).update(self.legend_text(colors))

    def legend_text(self, colors: list[tuple[int, int, int]]) -> Text:
        text = Text()
        for i, line in enumerate(self.legend):
            if i:
                text.append("\n")
            r, g, b = colors[i]
            text.append("━━ ", style=f"bold rgb({r},{g},{b})")
            text.append(line)
            if self.problems[i]:
                text.append(f"  ! {self.problems[i]}", style="bold")
            elif self.loaded and not self.series[i]:
                text.append("  (no metric points yet)", style="italic")
            elif self.metric is None and self.series[i]:
                text.append("  (" + ", ".join(sorted(self.series[i])) + ")", style="italic")
        return text

    def run_colors(self) -> list[tuple[int, int, int]]:
        """One colour per run from the theme's variables (a theme change redraws)."""
        variables = self.app.theme_variables
        out = []
        for i in range(len(self.runs)):
            color = Color.parse(variables.get(COLORS[i % len(COLORS)], "white"))
            out.append(color.rgb)
        return out

    def action_metric(self) -> None:
        names = self.shared()
        if names:
            i = names.index(self.metric) if self.metric in names else -1
            self.metric = names[(i + 1) % len(names)]
            self.draw()

    def action_axis(self) -> None:
        self.by = TIME if self.by == STEP else STEP
        self.draw()

    def action_log(self) -> None:
        chart = self.query_one(CompareChart)
        chart.log_scale = not chart.log_scale
        self.draw()

    def action_back(self) -> None:
        self.app.pop_screen()
