"""The charts' log scale survives repaints: plotext's build() takes the log of the y data it
holds on every render, so a chart that left the log to plotext crashed on its second render
(a resize, a repaint) with a math domain error for values below 1."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App, ComposeResult

from rdt_tui.tui.widgets.compare_chart import CompareChart, Curve
from rdt_tui.tui.widgets.loss_chart import LossChart

from .fakes import metric_batch

pytestmark = pytest.mark.asyncio

VALUES = [1 / (i + 1) for i in range(50)]  # 1 down to 0.02


class Charts(App[None]):
    def compose(self) -> ComposeResult:
        yield LossChart()
        yield CompareChart()


async def test_log_scale_draws_the_same_on_every_render() -> None:
    app = Charts()
    async with app.run_test(size=(100, 40)) as pilot:
        loss = app.query_one(LossChart)
        points = [
            {"seq": i + 1, "name": "loss", "value": v, "step": i, "t": float(i)}
            for i, v in enumerate(VALUES)
        ]
        loss.add(metric_batch(points)["series"])
        loss.toggle_log()
        compare = app.query_one(CompareChart)
        compare.curves = [Curve(list(range(50)), list(VALUES), (200, 100, 50))]
        compare.log_scale = True
        compare.redraw()
        shown: list[Any] = []
        for _ in range(3):  # repaints without a new plot
            for chart in (loss, compare):
                chart.refresh()
            await pilot.pause()
            shown.append([chart.plt.build() for chart in (loss, compare)])
        assert app.is_running
        assert shown[0] == shown[1] == shown[2]
        for text in shown[0]:
            # The ticks say the values (1 at the top, 0.02 at the bottom), not their logs.
            assert "0.02" in text and "-1.7" not in text
        assert compare.curves[0].ys == VALUES  # the data given to the chart is untouched
