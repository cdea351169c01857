"""A subscription's read of output.log runs off the daemon's event loop: while one read is
stuck (a slow disk, a huge chunk), the same connection's other requests are answered."""

from __future__ import annotations

import asyncio
import json
import threading
from types import SimpleNamespace

import pytest

from rdt_tui.agent import daemon, subscription
from rdt_tui.agent.service import AgentService
from rdt_tui.agent.supervise import AgentLog

from .test_agent_holds_up import Writer
from .test_daemon_pump import Watcher


@pytest.mark.asyncio
async def test_a_stuck_log_read_does_not_hold_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = threading.Event(), threading.Event()
    outcome: list[str] = []

    def stuck_read(path: str, offset: int, limit: int, final: bool) -> tuple[str, int, int]:
        if not outcome:
            started.set()
            # Only the loop, answering another request meanwhile, lets this read go on.
            outcome.append("released" if release.wait(20) else "loop blocked")
        return "", offset, offset

    monkeypatch.setattr(subscription, "read_chunk", stuck_read)
    w = Watcher()
    handlers = {n: getattr(AgentService, n) for n in dir(AgentService) if n.startswith("op_")}
    service = SimpleNamespace(watcher=lambda run_id: w, gpu_samples=[], gpu_seq=0, **handlers)
    writer = Writer()
    conn = daemon.Connection(
        SimpleNamespace(service=service, agent_log=AgentLog()),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        writer,  # type: ignore[arg-type]
    )
    pump = asyncio.ensure_future(subscription.pump(conn, "s1", "run", {}, gpu=False))
    loop = asyncio.get_event_loop()
    assert await loop.run_in_executor(None, started.wait, 20), "the pump never read"
    await conn.handle({"id": "u", "op": "unsubscribe", "args": {"sub": "none"}})
    answered = [json.loads(line) for line in writer.data.splitlines()]
    assert answered[-1]["id"] == "u" and answered[-1]["ok"] is True
    release.set()
    await asyncio.wait_for(pump, 30)
    assert outcome == ["released"]
