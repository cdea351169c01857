"""The link to an agent: requests matched to replies, events to subscriptions, reconnects.

AgentClient (agent_client.py) adds the typed operations on top."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ..protocol import wire
from ..protocol.messages import Hello
from ..transport.base import Disconnected, Transport, TransportError
from .subscription import Subscription


class AgentCallError(Exception):
    """The agent answered a request with an error: code, message and hint."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message + (f"\nhint: {self.hint}" if self.hint else "")


class AgentTimeout(TransportError, asyncio.TimeoutError):
    """The agent did not answer a request in time (an asyncio.TimeoutError too)."""

    title = "No answer from the agent"


# Operations that only read: safe to send again after a dropped link.
READ_OPS = frozenset(
    {
        "runs",
        "status",
        "tail",
        "log",
        "log_search",
        "metrics",
        "history",
        "checkpoints",
        "gpus",
        "preflight",
        "candidates",
    }
)
# Sent again after a dropped link too: a stop is idempotent (a run that ended answers so),
# and a stop cut short by a daemon restart must still reach the run.
RETRY_OPS = READ_OPS | {"stop"}
# Bounds of the waits that have no natural one.
DEFAULT_TIMEOUT_S = 60.0
METRICS_WAIT_S = 600.0  # an ended run's logs parsed to the end
LONG_OP_S = 3 * 3600.0  # dataset statistics, a dataset's MD5 manifest
PING_TIMEOUT_S = 3.0  # a link round trip: the console's staleness check

CONNECTING, CONNECTED, RECONNECTING, LOST, CLOSED = (
    "connecting",
    "connected",
    "reconnecting",
    "lost",
    "closed",
)
BACKOFF_S = (0.05, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0)
_Link = TypeVar("_Link", bound="AgentLink")


class AgentLink:
    """Requests, replies and subscriptions over one transport.

    With ``reconnect=True`` a dropped link is re-opened with backoff and every subscription
    resumes from its last positions, so its consumer sees no gap and no duplicate; ``state``
    (connecting, connected, reconnecting, lost, closed) tells where things stand, and
    ``on_state`` callbacks hear every change.
    """

    def __init__(
        self, transport: Transport, reconnect: bool = False, give_up_after: float = 120.0
    ) -> None:
        self.transport = transport
        self.host = transport.host
        self.reconnect = reconnect
        self.give_up_after = give_up_after
        self.info: Hello = {}
        self.state = CONNECTING
        self.reconnects = 0
        self._listeners: list[Callable[[str], None]] = []
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._subs: dict[str, Subscription] = {}
        self._reader: asyncio.Task[None] | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._up = asyncio.Event()
        self._closing = False
        self.closed = False
        # When the last line came off the link (monotonic): a frozen link stops this clock
        # long before TCP or SSH keepalives notice, so the console can say "stale" at once.
        self.last_heard = time.monotonic()

    def on_state(self, callback: Callable[[str], None]) -> None:
        self._listeners.append(callback)

    def off_state(self, callback: Callable[[str], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _set_state(self, state: str) -> None:
        self.state = state
        if state == CONNECTED:
            self._up.set()
        else:
            self._up.clear()
        for callback in list(self._listeners):
            callback(state)

    async def connect(self) -> Hello:
        self._set_state(CONNECTING)
        try:
            await self._open()
        except BaseException:
            self._set_state(LOST)
            self.closed = True
            raise
        self._set_state(CONNECTED)
        return self.info

    async def _open(self) -> None:
        await self.transport.open()
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())
        self.info = await self._request("hello", None, 30)
        if self.info.get("protocol") != wire.PROTOCOL_VERSION:
            await self.transport.close()
            raise AgentCallError(
                "protocol_mismatch",
                f"agent speaks protocol {self.info.get('protocol')}, "
                f"this console {wire.PROTOCOL_VERSION}",
                "upgrade rdt-tui so both ends match",
            )

    async def __aenter__(self: _Link) -> _Link:
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
                self.last_heard = time.monotonic()
                msg = wire.decode_line(line)
                if msg is None:
                    continue  # a banner or a warning on the channel: not protocol
                if "event" in msg:
                    sub = self._subs.get(str(msg.get("sub")))
                    if sub is not None:
                        sub.feed(msg)
                    continue
                fut = self._pending.pop(str(msg.get("id")), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(Disconnected(f"the connection to {self.host} dropped"))
            self._pending.clear()
            if self.reconnect and not self._closing and self.state == CONNECTED:
                self._reconnecting = asyncio.get_running_loop().create_task(self._recover())
            elif not self._closing and self.state == CONNECTED:
                self._give_up()

    def _give_up(self) -> None:
        self.closed = True
        self._set_state(LOST)
        for sub in self._subs.values():
            sub.end()

    async def _recover(self) -> None:
        """Re-open the link with backoff, then resume every subscription where it stopped."""
        self._set_state(RECONNECTING)
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempt = 0
        while not self._closing:
            try:
                await self.transport.close()
                await self._open()
                for sub in list(self._subs.values()):
                    await self._send_subscribe(sub)
                self.reconnects += 1
                self._set_state(CONNECTED)
                return
            except (TransportError, AgentCallError, OSError, asyncio.TimeoutError):
                if loop.time() - started > self.give_up_after:
                    break
                await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                attempt += 1
        if not self._closing:
            self._give_up()

    async def wait_connected(self, timeout: float) -> None:
        if self.state != CONNECTED:
            if self.closed:
                raise Disconnected(f"the connection to {self.host} is lost")
            try:
                await asyncio.wait_for(self._up.wait(), timeout)
            except asyncio.TimeoutError:
                raise AgentTimeout(
                    f"the connection to {self.host} did not come back within {timeout:.0f}s",
                    "check the network and that the host is up, then try again",
                ) from None

    async def _request(
        self, op: str, args: dict[str, Any] | None, timeout: float, req_id: str | None = None
    ) -> Any:
        req_id = req_id or str(next(self._ids))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            await self.transport.write(wire.encode(wire.request(req_id, op, args)))
            msg = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise AgentTimeout(
                f"the agent on {self.host} did not answer `{op}` within {timeout:.0f}s",
                "it may be overloaded or stuck: see agent.log in its state directory "
                "(~/.local/state/rdt-tui on the host), then try again",
            ) from None
        finally:
            self._pending.pop(req_id, None)
        if msg.get("ok"):
            return msg.get("result")
        err = msg.get("error") or {}
        raise AgentCallError(
            str(err.get("code")), str(err.get("message")), str(err.get("hint") or "")
        )

    async def call(
        self, op: str, args: dict[str, Any] | None = None, timeout: float = DEFAULT_TIMEOUT_S
    ) -> Any:
        """The result of ``op``; AgentCallError for the agent's error answer, AgentTimeout when
        none came within ``timeout`` seconds (every request has a bound)."""
        if self.closed:
            raise Disconnected(f"the connection to {self.host} is closed")
        if self.state == RECONNECTING:
            await self.wait_connected(self.give_up_after)
        try:
            return await self._request(op, args, timeout)
        except Disconnected:
            # A read changes nothing on the node: ask again once the link is back (a daemon
            # replaced by another build drops the first connection, for one).
            if not self.reconnect or op not in RETRY_OPS:
                raise
            for _ in range(100):  # until the read loop has seen the drop
                if self.state != CONNECTED:
                    break
                await asyncio.sleep(0.01)
            await self.wait_connected(self.give_up_after)
            return await self._request(op, args, timeout)

    async def close(self) -> None:
        self._closing = True
        if self._reconnecting is not None:
            # Wait for it to end before closing the transport, or a reconnect in the middle of
            # opening would start a new agent link after the close (and wait on it).
            self._reconnecting.cancel()
            await asyncio.wait([self._reconnecting], timeout=5.0)
        await self.transport.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 3.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
        self.closed = True
        if self.state != CLOSED:
            self._set_state(CLOSED)

    def heard_age(self) -> float:
        """Seconds since the last line came off the link."""
        return max(0.0, time.monotonic() - self.last_heard)

    async def ping(self, timeout: float = PING_TIMEOUT_S) -> float:
        """One round trip (a ``hello``) within ``timeout`` seconds: its time in seconds.
        The console sends one every second or so, so a frozen link shows as stale within a
        few seconds, where SSH keepalives take about 15."""
        if self.state != CONNECTED:
            raise Disconnected(f"the connection to {self.host} is {self.state}")
        started = time.monotonic()
        await self._request("hello", None, timeout)
        return time.monotonic() - started

    async def subscribe(
        self, run: str | None, since: dict[str, int] | None = None, gpu: bool | None = None
    ) -> Subscription:
        """Events of a run (log, metric, checkpoint, status) and/or GPU samples, starting
        after ``since`` positions; resumed from the last positions after a reconnect."""
        sub = Subscription(f"sub-{next(self._ids)}", run, since or {}, self._unsubscribe)
        sub.gpu = gpu
        return await self._register(sub)

    async def subscribe_gpus_of(self, run: str) -> Subscription:
        """GPU samples only, latest first, of run ``run``'s Slurm job's nodes (an agent older
        than this sends its own host's: samples without ``job``)."""
        sub = Subscription(f"sub-{next(self._ids)}", None, {"gpu": -1}, self._unsubscribe)
        sub.gpu, sub.gpu_of = True, run
        return await self._register(sub)

    async def _register(self, sub: Subscription) -> Subscription:
        """Register ``sub`` (so a reconnect sends it again) and ask the agent for it."""
        self._subs[sub.id] = sub
        try:
            await self._send_subscribe(sub)
        except BaseException:
            self._subs.pop(sub.id, None)
            raise
        return sub

    async def _send_subscribe(self, sub: Subscription) -> None:
        # packed: metric columns as base64 arrays (wire.pack_column), cheap at both ends;
        # an agent older than this ignores it and sends lists, which decode the same.
        args: dict[str, Any] = {"run": sub.run, "since": dict(sub.received), "packed": True}
        if sub.gpu is not None:
            args["gpu"] = sub.gpu
        if sub.gpu_of is not None:
            args["gpu_of"] = sub.gpu_of
        # The subscription answers, and tags its events, under its own id.
        await self._request("subscribe", args, 60, req_id=sub.id)

    async def _unsubscribe(self, sub: Subscription) -> None:
        self._subs.pop(sub.id, None)
        try:
            await self.call("unsubscribe", {"sub": sub.id}, timeout=5)
        except (AgentCallError, Disconnected, asyncio.TimeoutError):
            pass
