"""One subscription's events, typed (``protocol.messages.Event``), and its positions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

from ..protocol import wire
from ..protocol.messages import Event
from ..transport.base import Disconnected

# The events that carry a position to resume from (a status event carries none).
POSITIONED = ("log", "metric", "checkpoint", "gpu")


class Subscription:
    """Events of one subscription, and two sets of positions.

    ``since`` covers the events handed to the consumer: keep it to resume later (after a
    detach) without a gap or a duplicate. ``received`` covers the events read off the link,
    some perhaps still queued: the client resumes from it after a reconnect.

    A ``metric`` event's data is a :class:`~rdt_tui.protocol.messages.MetricBatch`: the
    agent's columns per name, decoded (NaN and Inf as floats, each point's time), never one
    dict per point; ``wire.points_of`` gives points for a reader that wants them.
    """

    def __init__(
        self,
        sub_id: str,
        run: str | None,
        since: dict[str, int],
        unsubscribe: Callable[[Subscription], Awaitable[None]],
    ) -> None:
        self.id = sub_id
        self.run = run
        self.since = dict(since)
        self.received = dict(since)
        self.gpu: bool | None = None
        self.gpu_of: str | None = None  # a run whose GPUs (a Slurm job's nodes') to stream
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._unsubscribe = unsubscribe

    def feed(self, msg: dict[str, Any]) -> None:
        """An event off the link (the client's read loop calls this)."""
        name = msg.get("event")
        if name == "metric":
            # Columns on the wire (cheap for the agent), decoded and kept as columns.
            msg["data"] = wire.decode_columns(msg.get("data") or {})
        if name in POSITIONED:
            self.received[str(name)] = int(msg.get("seq") or 0)
        self.queue.put_nowait(cast(Event, msg))

    def end(self) -> None:
        """The link is gone for good: the consumer's next wait raises Disconnected."""
        self.queue.put_nowait(None)

    async def next(self, timeout: float | None = None) -> Event:
        """The next event (asyncio.TimeoutError after ``timeout``); ``since`` moves past it."""
        msg = await asyncio.wait_for(self.queue.get(), timeout)
        if msg is None:
            self.queue.put_nowait(None)  # stays closed for later calls too
            raise Disconnected("the connection to the agent closed")
        name = msg["event"]
        if name in POSITIONED:
            self.since[name] = int(msg.get("seq") or 0)
        return msg

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Event]:
        while True:
            yield await self.next()

    async def close(self) -> None:
        await self._unsubscribe(self)
