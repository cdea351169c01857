"""The alert engine judges a run right after its watcher's poll, not on a timer of its own:
one tick per poll (polls that come together share one), every run again each SWEEP_S."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from rdt_tui.agent import alerting
from rdt_tui.agent.alerting import AlertEngine


class Service:
    def __init__(self, root: str) -> None:
        self.root = root
        self.watchers: dict[str, Any] = {}
        self.gpu_samples: collections.deque[Any] = collections.deque()
        self.store = self

    def run_ids(self) -> list[str]:
        return []


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_one_tick_per_watcher_poll_and_none_between(tmp_path: Any, monkeypatch: Any) -> None:
    engine = AlertEngine(Service(str(tmp_path)))
    ticks: list[Any] = []

    async def tick(only: Any = None) -> None:
        ticks.append(None if only is None else sorted(only))

    monkeypatch.setattr(engine, "tick", tick)

    async def main() -> None:
        task = asyncio.ensure_future(engine.run())
        await settle()
        assert ticks == [None]  # the first look: every run
        for _ in range(3):  # no poll: no tick, however often the loop turns
            await settle()
        assert ticks == [None]
        engine.polled("a")
        await settle()
        assert ticks == [None, ["a"]]
        engine.polled("a")
        engine.polled("b")  # two watchers polled in the same turn: one tick judges both
        await settle()
        assert ticks == [None, ["a"], ["a", "b"]]
        task.cancel()

    asyncio.run(main())


def test_every_run_is_judged_each_sweep_even_without_polls(tmp_path: Any, monkeypatch: Any) -> None:
    """A watcher held up (a slow disk) still has its run judged, for a stall, say."""
    monkeypatch.setattr(alerting, "SWEEP_S", 0.05)
    engine = AlertEngine(Service(str(tmp_path)))
    ticks: list[Any] = []

    async def tick(only: Any = None) -> None:
        ticks.append(only)

    monkeypatch.setattr(engine, "tick", tick)

    async def main() -> None:
        task = asyncio.ensure_future(engine.run())
        while len(ticks) < 3:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(asyncio.wait_for(main(), 10))
    assert ticks[:3] == [None, None, None]


def test_tick_judges_only_the_runs_that_polled(tmp_path: Any, monkeypatch: Any) -> None:
    service = Service(str(tmp_path))
    engine = AlertEngine(service)
    for run_id in ("a", "b", "c"):
        engine.runs[run_id] = alerting.RunAlerts(run_id, str(tmp_path), engine.user_rules)
        service.watchers[run_id] = object()
    judged: list[list[str]] = []

    def read(todo: list[Any], now: float) -> list[Any]:
        judged.append([st.run_id for st in todo])
        return [(None, "", 0, None)] * len(todo)

    monkeypatch.setattr(engine, "_reads_files", lambda st, now: False)
    monkeypatch.setattr(engine, "_read", read)
    monkeypatch.setattr(engine, "_evaluate", lambda *args: None)
    asyncio.run(engine.tick({"b", "gone"}))  # "gone": its watcher was dropped meanwhile
    asyncio.run(engine.tick(None))
    assert judged == [["b"], ["a", "b", "c"]]


class CountingSamples(collections.deque):
    """The sampler's hour of samples; counts the samples a reader touched."""

    read = 0

    def __getitem__(self, i: Any) -> Any:
        CountingSamples.read += 1
        return super().__getitem__(i)

    def __iter__(self) -> Any:
        for item in super().__iter__():
            CountingSamples.read += 1
            yield item


def test_the_idle_rule_reads_only_the_new_gpu_samples(tmp_path: Any) -> None:
    """After an hour the sampler keeps 3,600 samples: a tick judges the new one, it does not
    walk the hour each time."""
    service = Service(str(tmp_path))
    engine = AlertEngine(service)
    service.gpu_samples = CountingSamples(
        (seq, {"t": float(seq), "gpus": [{"util": 90.0, "processes": []}]})
        for seq in range(1, 3601)
    )
    st = alerting.RunAlerts("r1", str(tmp_path), engine.user_rules)
    st.gpu_seq = 3599
    CountingSamples.read = 0
    engine._running_rules(st, {"status": "running"}, object(), None, 3600.0)
    assert st.gpu_seq == 3600
    assert CountingSamples.read <= 3
