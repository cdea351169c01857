"""An unsubscribe (or a closed connection) ends a subscription's pump even when it lands in
the loop turn where the pump's news comes (the run's poll, a GPU sample). The pump's waits were
``asyncio.wait_for``, which before Python 3.12 returns the news and drops such a cancel: the
pump lived on, pushing or waiting for events no one had asked for, on a quiet run forever."""

from __future__ import annotations

import asyncio
from typing import Any

from rdt_tui.agent import subscription
from rdt_tui.agent.service import AgentService
from rdt_tui.agent.watch import RunWatcher

from .fakes import OneRunStore


class Conn:
    """The daemon's connection as a pump uses it."""

    def __init__(self, service: Any) -> None:
        self.daemon = type("Daemon", (), {"service": service})()
        self.subs: dict[str, Any] = {}
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


class OneWatcher:
    """The service as a run's pump reads it: one real watcher, no GPU samples."""

    def __init__(self, w: RunWatcher) -> None:
        self.w = w

    def watcher(self, run_id: str) -> RunWatcher:
        return self.w

    def gpu_feed(self, run_id: Any) -> list[Any]:
        return []


async def cancelled_with_news(conn: Conn, pump: Any, news: Any) -> asyncio.Task[None]:
    """Start ``pump``, let it wait for news, then give it news and cancel it in one turn."""
    task = asyncio.get_running_loop().create_task(pump)
    conn.subs["s1"] = task
    for _ in range(200):  # its first status is sent: it waits for news now
        await asyncio.sleep(0.01)
        if conn.sent:
            break
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done()
    news()
    task.cancel()
    await asyncio.wait([task], timeout=30)
    return task


async def test_a_run_pump_cancelled_as_its_watcher_polls_ends(tmp_path: Any) -> None:
    (tmp_path / "output.log").write_bytes(b"")
    w = RunWatcher(OneRunStore(tmp_path), "r1")  # type: ignore[arg-type]
    conn = Conn(OneWatcher(w))
    pump = subscription.pump(conn, "s1", "r1", {}, False)
    task = await cancelled_with_news(conn, pump, w.notify)
    assert task.cancelled(), "the pump outlived its cancel"
    assert "s1" not in conn.subs
    assert [m["event"] for m in conn.sent] == ["status"]


async def test_a_gpu_pump_cancelled_as_a_sample_comes_ends(tmp_path: Any) -> None:
    service = AgentService(str(tmp_path), [])
    conn = Conn(service)
    pump = subscription.pump(conn, "s1", None, {}, True)
    conn.sent.append({"event": "started"})  # a GPU-only pump sends nothing until a sample
    task = await cancelled_with_news(conn, pump, service._wake_gpu)
    assert task.cancelled(), "the pump outlived its cancel"
    assert "s1" not in conn.subs


async def test_the_waits_still_end_at_their_news_or_their_timeout(tmp_path: Any) -> None:
    (tmp_path / "output.log").write_bytes(b"")
    w = RunWatcher(OneRunStore(tmp_path), "r1")  # type: ignore[arg-type]
    service = AgentService(str(tmp_path), [])
    loop = asyncio.get_running_loop()
    for wait, news in ((w.wait, w.notify), (service.wait_gpu, service._wake_gpu)):
        waiting = loop.create_task(wait(600))
        await asyncio.sleep(0)
        news()
        await asyncio.wait_for(waiting, 30)  # the news ends it, not the 600 s
        await asyncio.wait_for(wait(0.01), 30)  # no news: the timeout ends it
