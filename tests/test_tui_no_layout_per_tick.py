"""A second's tick of the status line and a GPU sample repaint their own rows: they never make
the whole screen lay itself out again (that layout was a third of the console's CPU while a
run streamed). The GPU pane as a summary (height auto) still does: its height follows it."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App, ComposeResult

from rdt_tui.protocol.messages import GpuSample
from rdt_tui.tui.widgets.gpu_pane import GpuPane
from rdt_tui.tui.widgets.status_bar import StatusBar

pytestmark = pytest.mark.asyncio

SAMPLE: GpuSample = {"t": 10.0, "gpus": [], "host": {}}


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar("run-1")
        yield GpuPane()


async def layouts_during(app: Any, pilot: Any, monkeypatch: Any, tick: Any) -> int:
    count = []
    real = type(app.screen)._refresh_layout

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        count.append(1)
        return real(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(type(app.screen), "_refresh_layout", counted)
        for step in range(5):
            tick(step)
            await pilot.pause()
    return len(count)


async def test_status_ticks_and_gpu_samples_repaint_without_a_layout(monkeypatch: Any) -> None:
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        status, gpus = app.query_one(StatusBar), app.query_one(GpuPane)

        def tick(step: int) -> None:
            status.set_step(step * 10, total=1000)
            gpus.last = {**SAMPLE, "t": 10.0 + step}
            gpus._render_last()

        assert await layouts_during(app, pilot, monkeypatch, tick) == 0
        assert "40/1000" in str(status.render())
        gpus.set_summary(True)
        await pilot.pause()
        assert await layouts_during(app, pilot, monkeypatch, tick) > 0
