"""One chart of several runs' curves, each in its own colour; the screen sets ``curves`` and
calls ``redraw``. The legend is drawn beside it by the screen, not inside the plot, where it
would cover the curves.
The log scale is ours, not plotext's (see ``log_scale``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual_plotext import PlotextPlot

from ...core.downsample import downsample_minmax
from .log_scale import log10_all, log_ticks

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
                    ys = log10_all(ys) if self.log_scale else ys
                    plotted.extend(ys)
                    plt.plot(xs, ys, marker="braille", color=color)
            if self.log_scale:
                plt.yticks(*log_ticks(min(plotted), max(plotted)))
            plt.xlabel(self.xlabel)
        self.refresh()
