"""The metric chart: every metric the run reports (``m`` picks), EMA smoothing (``e``), a time
window (``w``) and a log scale (``g``).

Points are kept per metric in three ``array`` columns (8 bytes a value); past ``HISTORY``
points a series is thinned by min/max downsampling, so memory is bounded and spikes survive.
Smoothing is computed incrementally (only new points), and a redraw downsamples the window to
``DRAWN`` points before plotext sees it, so a 100,000-point series redraws in milliseconds.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections.abc import Mapping
from typing import Any

from textual.app import RenderResult
from textual.screen import ModalScreen
from textual_plotext import PlotextPlot

from ...core.downsample import downsample_minmax
from ...core.units import human_duration
from ...protocol.messages import History, MetricColumn
from ...protocol.wire import decode_floats
from .log_scale import log10_all, log_ticks

HISTORY = 200_000
DRAWN = 400
# A draw (plotext's canvas, then Textual's strips) costs ~13 ms; at most one per this many
# seconds while points stream in: half the console's chart CPU of a draw a second.
REDRAW_S = 2.0
SMOOTHING = (0.0, 0.6, 0.9, 0.99)
WINDOWS: tuple[float | None, ...] = (None, 3600.0, 900.0, 300.0)


class Series:
    __slots__ = ("_ema", "_ema_before", "_weight", "smooth", "steps", "times", "values")

    def __init__(self) -> None:
        self.steps = array("q")
        self.values = array("d")
        self.times = array("d")
        self.smooth = array("d")
        self._ema = 0.0
        self._ema_before = 0.0  # the average before the last smoothed value
        self._weight = -1.0

    def __len__(self) -> int:
        return len(self.values)

    def add(self, step: int, value: float, t: float) -> None:
        if self.steps and self.steps[-1] == step:
            # The agent re-sends a step that tqdm repainted: the new value replaces the last
            # point, as it did in the agent's store (a later attach sees only this one).
            self.values[-1] = value
            self.times[-1] = t
            if len(self.smooth) == len(self.values):
                self.smooth.pop()
                self._ema = self._ema_before
            return
        self.steps.append(step)
        self.values.append(value)
        self.times.append(t)
        if len(self.values) > HISTORY:
            keep = downsample_minmax(self.values, HISTORY // 2)
            self.steps = array("q", (self.steps[i] for i in keep))
            self.values = array("d", (self.values[i] for i in keep))
            self.times = array("d", (self.times[i] for i in keep))
            self._weight = -1.0  # recompute the smoothing from the thinned series

    def smoothed(self, weight: float) -> array[float]:
        """EMA of the values, debiased like TensorBoard's; NaN and Inf pass through without
        poisoning the average."""
        if weight != self._weight:
            self.smooth, self._ema, self._weight = array("d"), 0.0, weight
        start = len(self.smooth)
        out, ema, norm = self.smooth, self._ema, 1.0 - weight
        n = start
        before = self._ema_before
        for v in self.values[start:]:
            before = ema
            if math.isfinite(v):
                ema = ema * weight + norm * v
                n += 1
                out.append(ema / (1.0 - weight**n) if weight else v)
            else:
                out.append(v)
        self._ema, self._ema_before = ema, before
        return out


def _first_stepped(col: MetricColumn) -> int:
    """The seq of the column's first point that has a step (the first the chart keeps)."""
    return next((q for q, step in zip(col["seq"], col["step"], strict=True) if step is not None), 0)


class LossChart(PlotextPlot):
    """Metric points go in with ``add``; a redraw at most every ``REDRAW_S`` draws the chosen
    one, and only when its points (or the list of metrics in the title) changed."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.series: dict[str, Series] = {}
        self.sources: dict[str, str] = {}  # name -> "log" | "events" (a TensorBoard file)
        self.metric: str | None = None
        self.log_scale = False
        self.smoothing = SMOOTHING[0]
        self.window: float | None = WINDOWS[0]
        self._dirty = False
        self._drawn: tuple[list[tuple[int, float]], list[tuple[int, float]]] = ([], [])

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(REDRAW_S, self._redraw_if_dirty)

    def seed(self, history: History) -> dict[str, MetricColumn]:
        """Start from the agent's downsampled history (``history`` op: a few thousand points a
        series, its spikes and NaNs kept); the columns it added, drawn now (the first paint)."""
        series: dict[str, MetricColumn] = {}
        for name, col in (history.get("series") or {}).items():
            steps = list(col.get("step") or [])
            series[name] = {
                "seq": list(range(len(steps))),  # the view has no seqs; order within a name
                "step": steps,
                "value": decode_floats(col.get("value") or []),
                "t": [t or 0.0 for t in col.get("t") or []],
                "source": col.get("source") or "log",
            }
        self.add(series)
        self._redraw_if_dirty()  # drawn now, not at the next tick: this is the first paint
        return series

    def add(self, series: Mapping[str, MetricColumn]) -> None:
        """New points, as a subscription hands them: decoded columns per metric name."""
        shown, names = self.metric, len(self.series)
        # New names in the order their first point came, so the metric shown first (loss, or
        # the first to report) does not depend on the order of the columns.
        for name in sorted(series, key=lambda n: _first_stepped(series[n])):
            col = series[name]
            kept = self.series.get(name)
            for step, value, t in zip(col["step"], col["value"], col["t"], strict=True):
                if step is None:
                    continue
                if kept is None:
                    kept = self.series[name] = Series()
                self.sources[name] = col["source"]
                kept.add(step, value, t or 0.0)
                if name == shown:
                    self._dirty = True
        if self.metric is None and self.series:
            self.metric = "loss" if "loss" in self.series else next(iter(self.series))
        if self.metric != shown or len(self.series) != names:
            self._dirty = True  # a new metric shown, or one more in the title's count

    def cycle_metric(self) -> None:
        names = sorted(self.series)
        if names:
            i = names.index(self.metric) if self.metric in names else -1
            self.metric = names[(i + 1) % len(names)]
            self.redraw()

    def on_click(self) -> None:
        # The mouse's metric switch: a click on the chart shows the next metric, as `m` does.
        self.cycle_metric()

    def toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        self.redraw()

    def cycle_smoothing(self) -> None:
        self.smoothing = SMOOTHING[(SMOOTHING.index(self.smoothing) + 1) % len(SMOOTHING)]
        self.redraw()

    def cycle_window(self) -> None:
        self.window = WINDOWS[(WINDOWS.index(self.window) + 1) % len(WINDOWS)]
        self.redraw()

    def _redraw_if_dirty(self) -> None:
        top = self.app.screen
        covered = top is not self.screen and not isinstance(top, ModalScreen)
        if self._dirty and not covered:  # under another screen it waits, still dirty
            self.redraw()

    def drawn_points(self) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """(raw, smoothed) points of the chosen metric in the window, at most ``DRAWN`` each;
        smoothed is empty when smoothing is off."""
        series = self.series.get(self.metric or "")
        if series is None or not series.values:
            return [], []
        lo = 0
        if self.window is not None:
            lo = bisect_left(series.times, series.times[-1] - self.window)
        steps = series.steps[lo:]

        def pick(values: array[float]) -> list[tuple[int, float]]:
            keep = downsample_minmax(values, DRAWN)
            out = [(steps[i], values[i]) for i in keep]
            return [(s, v) for s, v in out if math.isfinite(v) and (v > 0 or not self.log_scale)]

        raw = pick(series.values[lo:])
        smooth = pick(series.smoothed(self.smoothing)[lo:]) if self.smoothing else []
        return raw, smooth

    def title_text(self) -> str:
        names = sorted(self.series)
        if not self.metric:
            return "waiting for metrics"
        parts = [f"{self.metric} ({names.index(self.metric) + 1}/{len(names)})"]
        if self.sources.get(self.metric) == "events":
            parts.append("from events")  # a TensorBoard event file, not the log
        if self.smoothing:
            parts.append(f"ema {self.smoothing}")
        if self.window:
            parts.append(f"last {human_duration(self.window)}")
        if self.log_scale:
            parts.append("log")
        return "  ".join(parts)

    def redraw(self) -> None:
        self._dirty = False
        self._drawn = self.drawn_points()
        self.refresh()

    def render(self) -> RenderResult:
        # plotext replaces the figure's data by its log10 while it builds (in place), so a
        # second build of the same figure (a resize, a screenshot, any repaint) would take the
        # log of a log. Every build therefore starts from fresh copies of our points.
        self._plot_into(self.plt)
        return super().render()

    def _plot_into(self, plt: Any) -> None:
        raw, smooth = self._drawn
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title_text())
        if raw:
            # Our log scale, not plotext's: its build() would take the log again on each
            # repaint (see log_scale).
            scale = log10_all if self.log_scale else list
            plt.plot(
                [s for s, _ in raw],
                scale([v for _, v in raw]),
                marker="braille",
                color="gray" if smooth else None,
            )
            if smooth:
                plt.plot([s for s, _ in smooth], scale([v for _, v in smooth]), marker="braille")
            if self.log_scale:
                ys = [v for _, v in raw + smooth]
                plt.yticks(*log_ticks(math.log10(min(ys)), math.log10(max(ys))))
            plt.xlabel("step")
