"""The confirm dialog's decline path: `n` and Esc answer no, and a declined stop starts
nothing. Checked by events (the answer's callback, the workers it would start), not by a
sleep: the old check slept 0.5 s while the run's status arrives once a second, so `n`
meaning "yes" passed it."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.widgets import Static

from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport
from rdt_tui.tui.app import make_app
from rdt_tui.tui.confirm import Confirm
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.widgets.status_bar import StatusBar

from .test_tui_dashboard import on_dashboard, open_run_factory, settled, until


class Asker(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("behind the question")


async def answer_of(*keys: str) -> bool | None:
    """What the dialog answers to ``keys``, as its caller's callback hears it."""
    app = Asker()
    heard: asyncio.Future[bool | None] = asyncio.get_running_loop().create_future()
    async with app.run_test() as pilot:
        await app.push_screen(Confirm("Stop the run?"), heard.set_result)
        await pilot.press(*keys)
        return await asyncio.wait_for(heard, 10)


async def test_y_confirms_and_n_or_escape_decline() -> None:
    assert await answer_of("y") is True
    assert await answer_of("n") is False
    assert await answer_of("escape") is False
    # A key that answers nothing leaves the question open for the one that does.
    assert await answer_of("x", "n") is False


async def test_a_declined_stop_starts_nothing_and_a_confirmed_one_stops(
    state_dir: str, workdir: str
) -> None:
    open_run, ids = open_run_factory(state_dir, workdir)
    app = make_app(open_run)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: on_dashboard(app))
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        bar = dash.query_one(StatusBar)
        for decline in ("n", "escape"):
            await pilot.press("s")
            await until(lambda: isinstance(app.screen, Confirm))
            before = set(app.workers)  # the dashboard's own, started with it
            await pilot.press(decline)
            await until(lambda: app.screen is dash)
            await settled(app, pilot, before)
            assert not dash.stop_asked, f"{decline} stopped the run"
            assert not any("Stopping" in str(n.message) for n in app._notifications)
        async with AgentClient(LocalTransport(state_dir, simulate_gpus=2)) as c:
            assert (await c.status(ids[0]))["status"] == "running"
        await pilot.press("s")
        await until(lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await until(lambda: bar.state == "stopped", timeout=60)
        assert dash.stop_asked
