"""One chart of several runs' curves, each in its own colour; the screen sets ``curves`` and
calls ``redraw``. The legend is drawn beside it by the screen, not inside the plot, where it
would cover the curves.

The log scale is ours, not plotext's: plotext's ``build()`` replaces its stored y data with
its log10 on every render, so a second render without a redraw (a resize, a repaint) would
take the log of the log. We plot log10 of the values on a linear axis and label the ticks
with the values themselves."""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual_plotext import PlotextPlot

from ...core.downsample import downsample_minmax

DRAWN = 400  # points a curve keeps for drawing (min/max kept, so spikes survive)


@dataclass
class Curve:
    xs: list[float]
    ys: list[float]
    color: tuple[int, int, int]


class CompareChart(PlotextPlot):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.curves: list[Curve] = []
        self.title = ""
        self.xlabel = "step"
        self.log_scale = False

    def drawn(self, curve: Curve) -> tuple[list[float], list[float]]:
        """At most ``DRAWN`` points of a curve, finite (and positive on a log scale), as new
        lists (plotext keeps what it is given)."""
        keep = downsample_minmax(curve.ys, DRAWN)
        pairs = [(curve.xs[i], curve.ys[i]) for i in keep]
        pairs = [(x, y) for x, y in pairs if math.isfinite(y) and (y > 0 or not self.log_scale)]
        return [x for x, _ in pairs], [y for _, y in pairs]

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        drawn = [(self.drawn(c), c.color) for c in self.curves]
        if any(xs for (xs, _), _ in drawn):
            plotted = []
            for (xs, ys), color in drawn:
                if xs:
                    ys = [math.log10(y) for y in ys] if self.log_scale else ys
                    plotted.extend(ys)
                    plt.plot(xs, ys, marker="braille", color=color)
            if self.log_scale:
                plt.yticks(*log_ticks(min(plotted), max(plotted)))
            plt.xlabel(self.xlabel)
        self.refresh()


def log_ticks(lo: float, hi: float, count: int = 5) -> tuple[list[float], list[str]]:
    """Tick positions on a log10 axis from ``lo`` to ``hi`` and their labels as values."""
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    positions = [lo + (hi - lo) * k / (count - 1) for k in range(count)]
    return positions, [f"{10**p:.3g}" for p in positions]
