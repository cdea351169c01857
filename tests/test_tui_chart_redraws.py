"""The chart is the console's costliest widget (plotext's canvas and Textual's strips, ~13 ms
a draw): it is drawn again only when what it shows changed (the chosen metric's points, or the
count of metrics in its title), and not while another screen covers it."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from rdt_tui.protocol.messages import MetricColumn
from rdt_tui.tui.widgets.loss_chart import LossChart

from .fakes import metric_batch

pytestmark = pytest.mark.asyncio


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield LossChart()


class Cover(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Static("over the chart")


def points(name: str, first: int, count: int = 5) -> list[dict[str, Any]]:
    return [
        {"seq": s, "name": name, "step": s, "value": 1.0 / (s + 1), "t": float(s)}
        for s in range(first, first + count)
    ]


def columns(pts: list[dict[str, Any]]) -> dict[str, MetricColumn]:
    return metric_batch(pts)["series"]


async def test_points_of_a_metric_not_shown_do_not_redraw_the_chart() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(LossChart)
        draws: list[int] = []
        real = chart.redraw

        def counted() -> None:
            draws.append(1)
            real()

        chart.redraw = counted  # type: ignore[method-assign]
        chart.add(columns(points("loss", 0) + points("lr", 0)))
        chart._redraw_if_dirty()
        assert chart.metric == "loss" and len(draws) == 1
        chart.add(columns(points("lr", 5)))  # the other metric moves on: nothing shown changed
        chart._redraw_if_dirty()
        assert len(draws) == 1
        chart.add(columns(points("grad_norm", 0)))  # a third metric: the title says (1/3) now
        chart._redraw_if_dirty()
        assert len(draws) == 2 and "(2/3)" in chart.title_text()  # sorted: grad_norm, loss, lr
        chart.add(columns(points("loss", 5)))
        chart._redraw_if_dirty()
        assert len(draws) == 3 and chart.drawn_points()[0][-1][0] == 9
        await pilot.pause()


async def test_a_covered_chart_waits_and_draws_when_shown_again() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(LossChart)
        chart.add(columns(points("loss", 0)))
        chart._redraw_if_dirty()
        await app.push_screen(Cover())
        await pilot.pause()
        chart.add(columns(points("loss", 5)))
        chart._redraw_if_dirty()
        assert chart._dirty and chart.drawn_points()[0][-1][0] == 9
        assert chart._drawn[0][-1][0] == 4  # still the picture from before the cover
        app.pop_screen()
        await pilot.pause()
        chart._redraw_if_dirty()
        assert not chart._dirty and chart._drawn[0][-1][0] == 9
