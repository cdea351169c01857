"""Status that never lies or goes stale: the dashboard driven by Pilot with a scripted client
whose link silence, clock and events the test controls."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import pytest
from textual.css.query import NoMatches

from rdt_tui.tui.app import make_app
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.widgets.checkpoint_table import CheckpointTable
from rdt_tui.tui.widgets.status_bar import StatusBar

from .fakes import FakeClient, FakeSubscription, metric_batch, scripted_events

pytestmark = pytest.mark.asyncio


class QuietClient(FakeClient):
    """A client whose link silence the test sets, and whose events it scripts."""

    def __init__(self, events: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.silence = 0.0
        self.pings = 0
        self.events = events
        self.later: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def heard_age(self) -> float:
        return self.silence

    async def ping(self, timeout: float = 3.0) -> float:
        self.pings += 1
        return 0.0

    async def subscribe(self, run: str | None, since: Any = None, gpu: Any = None) -> Any:
        if self.events is None:
            return FakeSubscription(scripted_events(run or ""))
        return self._live()

    async def _live(self) -> Any:
        """The scripted events, then whatever the test puts in ``later``."""
        for ev in self.events or []:
            yield ev
        while True:
            yield await self.later.get()


async def until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.05)):
        try:
            if predicate():
                return
        except NoMatches:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def bar_text(app: Any) -> str:
    return str(app.screen.query_one(StatusBar).render())


def app_on(client: QuietClient) -> Any:
    async def open_run() -> tuple[Any, str]:
        return client, "rdt-finetune-1"

    return make_app(open_run)


async def test_a_silent_link_is_marked_stale_and_fresh_again_when_it_answers() -> None:
    client = QuietClient()
    app = app_on(client)
    async with app.run_test(size=(120, 40)):
        await until(lambda: isinstance(app.screen, DashboardScreen) and "data" in bar_text(app))
        assert "STALE" not in bar_text(app)
        client.silence = 4.0  # nothing off the link for 4 s: pings went unanswered
        await until(lambda: "STALE" in bar_text(app))
        assert app.screen.query_one(StatusBar).has_class("-stale")
        # The dashboard asked the link for a round trip (the ping is a worker of the same tick).
        await until(lambda: client.pings > 0)
        client.silence = 0.0
        await until(lambda: "STALE" not in bar_text(app))
        assert "link connected" in bar_text(app)


async def test_the_age_of_the_newest_data_ticks_with_the_clock() -> None:
    app = app_on(QuietClient())
    async with app.run_test(size=(120, 40)):
        # every scripted event is in (the last one is the status): no more arrive
        await until(lambda: isinstance(app.screen, DashboardScreen) and "running" in bar_text(app))
        bar = app.screen.query_one(StatusBar)
        now = [1000.0]
        bar.clock = lambda: now[0]
        bar.heard()
        bar.refresh_text()
        assert "data 0s ago" in bar_text(app)
        now[0] += 40
        await until(lambda: "data 40s ago" in bar_text(app))


async def test_checkpoint_ages_tick() -> None:
    app = app_on(QuietClient())
    async with app.run_test(size=(120, 40)):
        await until(
            lambda: (
                isinstance(app.screen, DashboardScreen)
                and app.screen.query_one(CheckpointTable).row_count == 1
            )
        )
        table = app.screen.query_one(CheckpointTable)
        now = [5000.0]
        table.clock = lambda: now[0]
        table.apply(
            {
                "kind": "added",
                "checkpoint": {
                    "path": "/w/checkpoint-300",
                    "name": "checkpoint-300",
                    "step": 300,
                    "size": 1 << 30,
                    "mtime": 4998.0,
                    "notable": [],
                },
            }
        )
        assert table.get_row("/w/checkpoint-300")[2] == "2s"
        now[0] += 40  # the dashboard's once-a-second tick re-reads every age
        await until(lambda: table.get_row("/w/checkpoint-300")[2] == "42s")


def _stopped_run_events(run: str) -> list[dict[str, Any]]:
    points = [
        {"seq": i, "name": "loss", "value": 1.0, "step": i, "t": 1000.0 + i} for i in range(1, 30)
    ]
    log = "Steps: 3%|##| 29/900 [00:10<00:20, 9.9it/s]\n"
    return [
        {"event": "status", "run": run, "seq": 0, "data": {"status": "running"}},
        {"event": "log", "run": run, "seq": 1, "data": {"offset": 0, "text": log}},
        # two batches: the rate is measured between the last points of each
        {"event": "metric", "run": run, "seq": 10, "data": metric_batch(points[:10])},
        {"event": "metric", "run": run, "seq": 29, "data": metric_batch(points[10:])},
    ]


async def test_a_stopped_run_loses_its_eta_and_d_does_not_say_it_keeps_running() -> None:
    events = _stopped_run_events("rdt-finetune-1")
    client = QuietClient(events)
    app = app_on(client)
    said: list[str] = []
    leave = app.exit

    def exit_(*args: Any, **kwargs: Any) -> None:
        said.append(str(kwargs.get("message")))
        leave(*args, **kwargs)

    app.exit = exit_
    async with app.run_test(size=(120, 40)) as pilot:
        await until(
            lambda: isinstance(app.screen, DashboardScreen) and "1.00 steps/s" in bar_text(app)
        )
        assert "ETA -" not in bar_text(app)  # running: an ETA from the rate
        final = {"status": "stopped", "complete": True, "exit_code": None, "signal": "SIGINT"}
        client.later.put_nowait(
            {"event": "status", "run": "rdt-finetune-1", "seq": 2, "data": final}
        )
        await until(lambda: "stopped" in bar_text(app))
        assert "ETA -" in bar_text(app)
        await pilot.press("d")
    assert app.return_code in (None, 0)
    assert said and "has ended" in said[0] and "keeps running" not in said[0]


async def test_screenshot_is_saved_where_it_can_be_and_the_path_shown(tmp_path: Any) -> None:
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        app = app_on(QuietClient())
        async with app.run_test(size=(100, 30)) as pilot:
            await until(lambda: isinstance(app.screen, DashboardScreen))
            saved = app.deliver_screenshot()
            await pilot.pause()
            assert saved is not None and os.path.dirname(saved) == str(tmp_path)
            with open(saved, encoding="utf-8") as fh:
                assert fh.read().startswith("<svg")
            shown = [n.message for n in app._notifications]
            assert any(saved in m for m in shown)
            # A directory Textual's default would need and that is missing is never used:
            # an explicit one that does not exist yet is made.
            saved2 = app.deliver_screenshot(filename="two.svg", path=str(tmp_path / "new" / "d"))
            assert saved2 is not None and os.path.exists(saved2)
    finally:
        os.chdir(here)
