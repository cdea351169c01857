"""A subscription waits for its run's poll or a GPU sample with one future that both are
given (agent/subscription.py), not a task per source: each wake-up creates no task and
sends what is new."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from rdt_tui.agent import subscription


class Follower:
    inode, read_to, truncations, rotations = 1, 0, 0, 0
    last_read: tuple[int | None, int, bytes] = (None, 0, b"")


class Watcher:
    def __init__(self, log: str) -> None:
        self.finished = False
        self.output_log = log
        self.followers = {log: Follower()}
        self.ckpt_events: list[Any] = []
        self.summary = {"status": "running"}
        self._waiters: list[Any] = []

    def metric_columns(
        self, seq: int, limit: int, packed: bool = False
    ) -> tuple[dict[str, Any], int]:
        return {"series": {}, "count": 0}, seq

    def listen(self, fut: Any) -> None:
        self._waiters.append(fut)

    async def wait(self, timeout: float) -> None:  # what the pump used before
        fut = asyncio.get_event_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            pass

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)


class Service:
    def __init__(self, w: Watcher) -> None:
        self.w = w
        self.samples: collections.deque[tuple[int, dict[str, Any]]] = collections.deque()
        self._gpu_waiters: list[Any] = []

    def watcher(self, run_id: str) -> Watcher:
        return self.w

    def gpu_feed(self, run_id: Any) -> Any:
        return self.samples

    def listen_gpu(self, fut: Any) -> None:
        self._gpu_waiters.append(fut)

    async def wait_gpu(self, timeout: float) -> None:  # what the pump used before
        fut = asyncio.get_event_loop().create_future()
        self._gpu_waiters.append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            pass

    def sample(self, seq: int) -> None:
        self.samples.append((seq, {"gpus": []}))
        waiters, self._gpu_waiters = self._gpu_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)


class Conn:
    def __init__(self, service: Service) -> None:
        self.daemon = type("Daemon", (), {"service": service})()
        self.subs: dict[str, Any] = {}
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_each_wake_up_creates_no_task(tmp_path: Any) -> None:
    log = tmp_path / "output.log"
    log.write_bytes(b"")
    w = Watcher(str(log))
    service = Service(w)
    conn = Conn(service)

    async def main() -> tuple[int, list[str]]:
        loop = asyncio.get_running_loop()
        pump = loop.create_task(subscription.pump(conn, "s1", "r1", {}, True))
        await asyncio.sleep(0.2)  # its first read of the (empty) log, its first status
        created = []
        real = loop.create_task

        def create_task(coro: Any, **kw: Any) -> Any:
            created.append(coro)
            return real(coro, **kw)

        loop.create_task = create_task  # type: ignore[method-assign]
        for seq in range(1, 11):
            service.sample(seq)  # a GPU sample: the pump sends it
            await settle()
            w.notify()  # a poll that found nothing: the pump looks and waits again
            await settle()
        loop.create_task = real  # type: ignore[method-assign]
        pump.cancel()
        return len(created), [m["event"] for m in conn.sent]

    created, events = asyncio.run(main())
    assert events.count("gpu") == 10
    assert created == 0
