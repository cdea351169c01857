"""Before its first metric point a run's watcher polls it five times a second, but only while
its logs move: a run quiet for FIRST_QUIET_S (loading a dataset) is polled once a second, and
new bytes bring the quick polls back. Quick polls that found nothing do not each run the
alert rules. Driven on a simulated clock: the test counts polls, not seconds."""

from __future__ import annotations

import asyncio
import types
from pathlib import Path
from typing import Any

from rdt_tui.agent import watch
from rdt_tui.agent.watch import FIRST_POLL_S, FIRST_QUIET_S, FIRST_WINDOW_S, POLL_S, RunWatcher

from .fakes import OneRunStore


class Clock:
    """time.monotonic as the watcher sees it, moved on by its own sleeps."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.real_sleep = asyncio.sleep
        self.writes: dict[float, str] = {}  # at this simulated time, append this line
        self.log: Path | None = None

    def module(self) -> Any:
        return types.SimpleNamespace(monotonic=lambda: self.t, time=lambda: 1.7e9 + self.t)

    async def sleep(self, seconds: float) -> None:
        for at in [at for at in self.writes if self.t < at <= self.t + seconds]:
            assert self.log is not None
            with self.log.open("a") as fh:
                fh.write(self.writes.pop(at))
        self.t += seconds
        await self.real_sleep(0)


def run_for(tmp_path: Path, monkeypatch: Any, seconds: float, writes: dict[float, str]) -> dict:
    clock = Clock()
    clock.log = tmp_path / "output.log"
    clock.log.write_text("starting\n")
    clock.writes = {clock.t + at: line for at, line in writes.items()}
    monkeypatch.setattr(watch, "time", clock.module())
    monkeypatch.setattr(watch, "asyncio", types.SimpleNamespace(
        sleep=clock.sleep, get_event_loop=asyncio.get_event_loop))  # fmt: skip
    w = RunWatcher(OneRunStore(tmp_path), "r1")  # type: ignore[arg-type]
    counts = {"polls": 0, "judged": 0, "cursors": 0}
    poll, save = w._poll, w.metrics.save_cursor

    def counted_poll() -> Any:
        counts["polls"] += 1
        return poll()

    def counted_save(extra: Any) -> None:
        counts["cursors"] += 1
        save(extra)

    w._poll = counted_poll  # type: ignore[method-assign]
    w.metrics.save_cursor = counted_save  # type: ignore[method-assign]
    w.on_poll = lambda run_id: counts.__setitem__("judged", counts["judged"] + 1)
    start = clock.t

    async def main() -> None:
        w.start()
        while clock.t - start < seconds:
            await clock.real_sleep(0)
        assert w._task is not None
        w._task.cancel()

    asyncio.run(main())
    return counts


def test_a_quiet_run_without_metrics_is_polled_once_a_second(
    tmp_path: Path, monkeypatch: Any
) -> None:
    counts = run_for(tmp_path, monkeypatch, FIRST_WINDOW_S, {})
    quick = FIRST_QUIET_S / FIRST_POLL_S  # the first seconds, while it may print its first loss
    slow = (FIRST_WINDOW_S - FIRST_QUIET_S) / POLL_S
    assert counts["polls"] <= quick + slow + 2  # was FIRST_WINDOW_S / FIRST_POLL_S = 600
    assert counts["judged"] <= FIRST_WINDOW_S / POLL_S + 2  # the alert rules: once a second


def test_new_lines_bring_the_quick_polls_back(tmp_path: Path, monkeypatch: Any) -> None:
    # Quiet until 60 s, then a line each second for 10 s: quick polls for those 10 s and
    # FIRST_QUIET_S after (a first loss may be near), slow ones around them.
    writes = {60.0 + i: f"loading shard {i}\n" for i in range(10)}
    counts = run_for(tmp_path, monkeypatch, 100.0, writes)
    quick_s = FIRST_QUIET_S + 10 + FIRST_QUIET_S
    expected = quick_s / FIRST_POLL_S + (100 - quick_s) / POLL_S
    assert abs(counts["polls"] - expected) <= 8, counts


def test_the_first_point_ends_the_quick_polls(tmp_path: Path, monkeypatch: Any) -> None:
    counts = run_for(tmp_path, monkeypatch, 30.0, {1.0: "step=1 loss=0.5\n"})
    assert counts["polls"] <= 1 / FIRST_POLL_S + 30 / POLL_S + 2


def test_a_quiet_runs_cursor_is_written_once(tmp_path: Path, monkeypatch: Any) -> None:
    """The log offsets and parser state do not move: cursor.json (and the summaries saved
    with it) is not written again every CURSOR_EVERY_S."""
    counts = run_for(tmp_path, monkeypatch, 60.0, {30.0: "loading shard 1\n"})
    assert counts["cursors"] == 2  # after the first line, and after the one at 30 s
