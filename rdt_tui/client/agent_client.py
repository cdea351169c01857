"""A typed async API over a transport: requests matched to replies, events to subscriptions."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

from ..protocol import wire
from ..transport.base import Disconnected, Transport


class AgentCallError(Exception):
    """The agent answered a request with an error: code, message and hint."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message + (f"\nhint: {self.hint}" if self.hint else "")


class Subscription:
    """Events of one subscription, with the positions to resume from after a drop."""

    def __init__(
        self, client: AgentClient, sub_id: str, run: str | None, since: dict[str, int]
    ) -> None:
        self.client = client
        self.id = sub_id
        self.run = run
        self.since = dict(since)
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def _feed(self, msg: dict[str, Any]) -> None:
        name = msg.get("event")
        if name == "metric":
            # Columns on the wire (cheap for the agent); point dicts for the caller.
            msg["data"]["points"] = wire.expand_points(msg["data"])
        if name in ("log", "metric", "checkpoint", "gpu"):
            self.since[str(name)] = int(msg.get("seq") or 0)
        self.queue.put_nowait(msg)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            msg = await self.queue.get()
            if msg is None:
                raise Disconnected("the connection to the agent closed")
            yield msg

    async def close(self) -> None:
        self.client._subs.pop(self.id, None)
        try:
            await self.client.call("unsubscribe", {"sub": self.id}, timeout=5)
        except (AgentCallError, Disconnected, asyncio.TimeoutError):
            pass


class AgentClient:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.host = transport.host
        self.info: dict[str, Any] = {}
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._subs: dict[str, Subscription] = {}
        self._reader: asyncio.Task[None] | None = None
        self.closed = False

    async def connect(self) -> dict[str, Any]:
        await self.transport.open()
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())
        self.info = await self.call("hello", timeout=30)
        if self.info.get("protocol") != wire.PROTOCOL_VERSION:
            await self.close()
            raise AgentCallError(
                "protocol_mismatch",
                f"agent speaks protocol {self.info.get('protocol')}, "
                f"this console {wire.PROTOCOL_VERSION}",
                "upgrade rdt-tui so both ends match",
            )
        return self.info

    async def __aenter__(self) -> AgentClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _read_loop(self) -> None:
        try:
            while True:
                line = await self.transport.readline()
                if not line:
                    break
                msg = wire.decode_line(line)
                if msg is None:
                    continue  # a banner or a warning on the channel: not protocol
                if "event" in msg:
                    sub = self._subs.get(str(msg.get("sub")))
                    if sub is not None:
                        sub._feed(msg)
                    continue
                fut = self._pending.pop(str(msg.get("id")), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
        finally:
            self.closed = True
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(Disconnected("the connection to the agent closed"))
            self._pending.clear()
            for sub in self._subs.values():
                sub.queue.put_nowait(None)

    async def call(
        self, op: str, args: dict[str, Any] | None = None, timeout: float | None = 60.0
    ) -> Any:
        if self.closed:
            raise Disconnected("the connection to the agent is closed")
        req_id = str(next(self._ids))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        await self.transport.write(wire.encode(wire.request(req_id, op, args)))
        try:
            msg = await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(req_id, None)
        if msg.get("ok"):
            return msg.get("result")
        err = msg.get("error") or {}
        raise AgentCallError(
            str(err.get("code")), str(err.get("message")), str(err.get("hint") or "")
        )

    async def close(self) -> None:
        await self.transport.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 3.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
        self.closed = True

    # ----- typed operations --------------------------------------------------------------
    async def runs(self) -> list[dict[str, Any]]:
        return list(await self.call("runs"))

    async def status(self, run: str) -> dict[str, Any]:
        return dict(await self.call("status", {"run": run}))

    async def launch(
        self,
        argv: list[str],
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"argv": argv, "cwd": cwd, "env": env or {}}
        args.update({k: v for k, v in options.items() if v is not None})
        return dict(await self.call("launch", args))

    async def stop(
        self, run: str, grace: float = 30.0, signal: str | None = None
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"run": run, "grace": grace}
        if signal:
            args["signal"] = signal
        return dict(await self.call("stop", args, timeout=grace + 120))

    async def tail(self, run: str, lines: int = 50) -> dict[str, Any]:
        return dict(await self.call("tail", {"run": run, "lines": lines}))

    async def log(self, run: str, since: int = 0, limit: int = 1 << 20) -> dict[str, Any]:
        return dict(await self.call("log", {"run": run, "since": since, "limit": limit}))

    async def metrics(
        self, run: str, since: int = 0, limit: int = 100000, wait_ended: bool = False
    ) -> dict[str, Any]:
        """Points after ``since`` (``"points"``: dicts in seq order) and ``"last_seq"``.

        With ``wait_ended``, a run that has ended answers once its logs are fully parsed."""
        args: dict[str, Any] = {"run": run, "since": since, "limit": limit}
        if wait_ended:
            args["wait"] = "ended"
        page = dict(await self.call("metrics", args, timeout=None if wait_ended else 60))
        page["points"] = wire.expand_points(page)
        return page

    async def all_metrics(self, run: str, wait_ended: bool = True) -> list[dict[str, Any]]:
        """Every point of a run, paged."""
        points: list[dict[str, Any]] = []
        since = 0
        while True:
            page = await self.metrics(run, since, wait_ended=wait_ended)
            points.extend(page["points"])
            if page["last_seq"] == since:
                return points
            since = page["last_seq"]

    async def history(
        self, run: str, points: int = 500, names: list[str] | None = None
    ) -> dict[str, Any]:
        return dict(await self.call("history", {"run": run, "points": points, "names": names}))

    async def checkpoints(self, run: str) -> dict[str, Any]:
        return dict(await self.call("checkpoints", {"run": run}))

    async def gpus(self, limit: int = 1) -> dict[str, Any]:
        return dict(await self.call("gpus", {"limit": limit}))

    async def subscribe(
        self, run: str | None, since: dict[str, int] | None = None, gpu: bool | None = None
    ) -> Subscription:
        sub_id = f"sub-{next(self._ids)}"
        sub = Subscription(self, sub_id, run, since or {})
        self._subs[sub_id] = sub
        args: dict[str, Any] = {"run": run, "since": sub.since}
        if gpu is not None:
            args["gpu"] = gpu
        req_id = sub_id  # the subscription answers under its own id
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        await self.transport.write(wire.encode(wire.request(req_id, "subscribe", args)))
        msg = await asyncio.wait_for(fut, 60)
        if not msg.get("ok"):
            self._subs.pop(sub_id, None)
            err = msg.get("error") or {}
            raise AgentCallError(
                str(err.get("code")), str(err.get("message")), str(err.get("hint") or "")
            )
        return sub
