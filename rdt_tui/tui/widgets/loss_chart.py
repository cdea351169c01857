"""The metric chart: one metric at a time, bounded history, downsampled before drawing."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from textual_plotext import PlotextPlot

from ...core.downsample import downsample_minmax

HISTORY = 50_000
DRAWN = 400


class LossChart(PlotextPlot):
    """Metric points go in with ``add``; a redraw at most once a second draws the chosen one."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.series: dict[str, deque[tuple[int, float]]] = {}
        self.metric: str | None = None
        self.log_scale = False
        self._dirty = False

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(1.0, self._redraw_if_dirty)

    def add(self, points: list[dict[str, Any]]) -> None:
        for p in points:
            value = p["value"]
            if not isinstance(value, (int, float)) or p["step"] is None:
                continue
            name = str(p["name"])
            self.series.setdefault(name, deque(maxlen=HISTORY)).append(
                (int(p["step"]), float(value))
            )
        if self.metric is None and self.series:
            self.metric = "loss" if "loss" in self.series else next(iter(self.series))
        self._dirty = True

    def cycle_metric(self) -> None:
        names = sorted(self.series)
        if names:
            i = names.index(self.metric) if self.metric in names else -1
            self.metric = names[(i + 1) % len(names)]
            self.redraw()

    def toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        self.redraw()

    def _redraw_if_dirty(self) -> None:
        if self._dirty:
            self.redraw()

    def drawn_points(self) -> list[tuple[int, float]]:
        data = list(self.series.get(self.metric or "", ()))
        finite = [(s, v) for s, v in data if math.isfinite(v) and (v > 0 or not self.log_scale)]
        keep = downsample_minmax([v for _, v in finite], DRAWN)
        return [finite[i] for i in keep]

    def redraw(self) -> None:
        self._dirty = False
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        points = self.drawn_points()
        title = self.metric or "waiting for metrics"
        plt.title(f"{title}{' (log)' if self.log_scale else ''}   [m] next metric  [g] log")
        if points:
            plt.yscale("log" if self.log_scale else "linear")
            plt.plot([s for s, _ in points], [v for _, v in points], marker="braille")
            plt.xlabel("step")
        self.refresh()
