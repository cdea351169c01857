"""The agent's ops are one table (``agent/ops.py``): the daemon answers only what it names,
says which stream, and refuses any other name with ``unknown_op`` in the wire's error shape.
Before, ops were found by ``getattr(service, "op_" + name)`` over three mixins, beside three
names the daemon special-cased."""

from __future__ import annotations

import asyncio
import inspect
import json
from types import SimpleNamespace
from typing import Any

import pytest

from rdt_tui.agent.daemon import Connection
from rdt_tui.agent.ops import Op, op_table
from rdt_tui.agent.service import AgentService
from rdt_tui.agent.supervise import AgentLog

from .test_agent_holds_up import Writer


def fake_service() -> Any:
    """The service's handlers, unbound: the table is read, none of them is called."""
    return SimpleNamespace(**{n: getattr(AgentService, n) for n in dir(AgentService)})


def connection(service: Any) -> tuple[Connection, Writer]:
    writer = Writer()
    daemon = SimpleNamespace(service=service, agent_log=AgentLog(), stop=lambda: None)
    return Connection(daemon, None, writer), writer  # type: ignore[arg-type]


def replies(writer: Writer) -> list[dict[str, Any]]:
    return [json.loads(line) for line in writer.data.splitlines()]


def test_every_handler_of_the_service_is_in_the_table_under_its_name() -> None:
    service = fake_service()
    table = op_table(service, SimpleNamespace(op_shutdown=1, op_subscribe=2, op_unsubscribe=3))
    handlers = {n[3:] for n in dir(AgentService) if n.startswith("op_")}
    assert handlers <= set(table), "a handler no request can reach"
    for name in handlers:
        assert table[name].handler is getattr(AgentService, "op_" + name)
        assert inspect.iscoroutinefunction(table[name].handler)
    assert set(table) - handlers == {"shutdown", "subscribe", "unsubscribe"}
    assert [n for n, op in table.items() if op.streams] == ["subscribe"]


async def test_an_unknown_op_gets_the_wire_error() -> None:
    conn, writer = connection(fake_service())
    names = ["nope", "_escalate", "__init__", "watcher", "op_hello"]
    for name in names:
        await conn.handle({"id": name, "op": name, "args": {}})
    got = replies(writer)
    assert len(got) == len(names)
    for reply, name in zip(got, names):  # noqa: B905 (lengths checked above)
        assert reply == {
            "id": name,
            "ok": False,
            "error": {
                "code": "unknown_op",
                "message": f"unknown operation {name!r}",
                "hint": "the console and agent versions differ; reconnect",
            },
        }


async def test_the_daemon_answers_through_the_table() -> None:
    conn, writer = connection(fake_service())
    seen: list[Any] = []

    async def echo(args: dict[str, Any]) -> dict[str, Any]:
        seen.append(args)
        return {"echo": args}

    def stream(stream_id: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"sub": stream_id}

    conn._ops = {"echo": Op(echo), "watch": Op(stream, streams=True)}
    await conn.handle({"id": 1, "op": "echo", "args": {"x": 1}})
    await conn.handle({"id": 2, "op": "watch", "args": {}})
    await conn.handle({"id": 3, "op": "hello", "args": {}})  # not in this table
    got = replies(writer)
    assert got[0] == {"id": 1, "ok": True, "result": {"echo": {"x": 1}}} and seen == [{"x": 1}]
    assert got[1] == {"id": 2, "ok": True, "result": {"sub": "2"}}
    assert got[2]["error"]["code"] == "unknown_op"


async def test_the_connections_own_ops_keep_their_answers() -> None:
    stopped = asyncio.Event()
    conn, writer = connection(fake_service())
    conn.daemon.stop = stopped.set  # type: ignore[method-assign]
    await conn.handle({"id": 1, "op": "unsubscribe", "args": {"sub": "9"}})
    await conn.handle({"id": 2, "op": "shutdown", "args": {}})
    await asyncio.wait_for(stopped.wait(), 10)
    assert [r["result"] for r in replies(writer)] == [{"unsubscribed": False}, {"stopping": True}]


@pytest.mark.parametrize("name", ["runs", "preflight", "adopt", "alerts"])
def test_ops_of_every_mixin_are_reachable(name: str) -> None:
    service = fake_service()
    conn = SimpleNamespace(op_shutdown=1, op_subscribe=2, op_unsubscribe=3)
    assert op_table(service, conn)[name].handler is getattr(AgentService, "op_" + name)
