"""80x24: the compact dashboard keeps the status line whole, one GPU summary row with
temperature and power, and toasts that stay off the chart."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets._toast import Toast

from rdt_tui.protocol.messages import RunSummary
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.widgets.gpu_pane import GpuPane
from rdt_tui.tui.widgets.loss_chart import LossChart

from .test_tui_status import QuietClient, app_on, bar_text, until

pytestmark = pytest.mark.asyncio


async def test_80x24_keeps_link_state_and_a_gpu_row_with_temperature_and_power() -> None:
    app = app_on(QuietClient())
    async with app.run_test(size=(80, 24)) as pilot:
        await until(
            lambda: (
                isinstance(app.screen, DashboardScreen)
                and app.screen.query_one(GpuPane).last is not None
                and "running" in bar_text(app)
            )
        )
        await pilot.pause(0.3)
        assert app.screen.has_class("-compact")
        assert "link connected" in bar_text(app)
        assert len(bar_text(app)) <= 78
        pane = app.screen.query_one(GpuPane)
        assert pane.has_class("-summary") and pane.region.height <= 4
        text = str(pane.render())
        assert "60C" in text and "300W" in text and "61C" in text and "301W" in text
        assert "SIMULATED" in text
        # Back to a big terminal: the cards again.
        await pilot.resize_terminal(120, 40)
        await until(lambda: not app.screen.has_class("-compact"))
        assert not pane.has_class("-summary")


async def test_toasts_at_80x24_leave_the_chart_visible() -> None:
    app = app_on(QuietClient())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await until(lambda: isinstance(app.screen, DashboardScreen))
        for i in range(5):
            app.notify(
                f"alert {i}: a long message that would wrap over several lines of a toast",
                severity="error",
            )
        await pilot.pause(0.5)
        chart = app.screen.query_one(LossChart).region
        toasts = list(app.screen.query(Toast))
        assert toasts
        for toast in toasts:
            assert not toast.region.overlaps(chart), (toast.region, chart)


async def test_a_dashboard_opened_from_the_launch_form_at_120x40_is_not_compact() -> None:
    """A screen switched in from the launch form sizes itself by the terminal."""
    from rdt_tui.launch.plan import LaunchPlan
    from rdt_tui.tui.screens.launch_screen import LaunchScreen
    from rdt_tui.tui.widgets.gpu_pane import GpuPane

    class Launching(QuietClient):
        async def launch_args(self, args: dict[str, Any]) -> RunSummary:
            return {"id": "rdt-finetune-1", "status": "running"}

    async def open_run() -> tuple[object, object]:
        return Launching(), LaunchPlan("a command", lambda v: {"argv": ["true"]})

    from rdt_tui.tui.app import make_app

    app = make_app(open_run)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, LaunchScreen))
        await pilot.press("l")
        await pilot.pause(0.2)
        await pilot.press("y")
        await until(lambda: isinstance(app.screen, DashboardScreen) and "running" in bar_text(app))
        await pilot.pause(0.3)
        assert not app.screen.has_class("-compact")
        assert not app.screen.query_one(GpuPane).has_class("-summary")
