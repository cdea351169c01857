"""A subscription reads the run's output.log only when there can be news: the watcher's view
of the log changed since the subscription's last read found nothing (a GPU sample or a timeout
wakes it too, and an idle run must not cost a disk read each time)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from rdt_tui.agent import daemon, subscription
from rdt_tui.agent.supervise import AgentLog

from .test_agent_holds_up import Writer


async def pump_run(watcher: Any) -> Writer:
    """A run's subscription pumped to its end through a real Connection, the daemon's
    service reduced to ``watcher``; what it wrote."""
    service = SimpleNamespace(watcher=lambda run_id: watcher, gpu_samples=[], gpu_seq=0)
    writer = Writer()
    conn = daemon.Connection(
        SimpleNamespace(service=service, agent_log=AgentLog()),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        writer,  # type: ignore[arg-type]
    )
    await subscription.pump(conn, "s1", "run", {}, gpu=False)
    return writer


class Watcher:
    """A run's watcher as the pump sees it; its log grows once, at the third wake-up."""

    def __init__(self) -> None:
        self.output_log = "output.log"
        self.finished = False
        self.follower = SimpleNamespace(
            inode=1, read_to=10, truncations=0, rotations=0, last_read=(None, 0, b"")
        )
        self.followers = {self.output_log: self.follower}
        self.summary = {"status": "running"}
        self.ckpt_events: list[Any] = []
        self.wakes = 0

    def metric_columns(
        self, seq: int, limit: int, packed: bool = False
    ) -> tuple[dict[str, Any], int]:
        return {"count": 0}, seq

    async def wait(self, timeout: float) -> None:
        self.wakes += 1
        if self.wakes == 3:
            self.follower.read_to = 20  # the watcher's poll found more bytes
        if self.wakes == 6:
            self.finished = True


@pytest.mark.asyncio
async def test_an_idle_subscription_reads_the_log_only_when_the_watcher_saw_it_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[int] = []

    def read_chunk(path: str, offset: int, limit: int, final: bool) -> tuple[str, int, int]:
        reads.append(offset)
        if len(reads) == 2:  # what the watcher saw grow
            return "step=1\n", offset, offset + 7
        return "", offset, offset

    monkeypatch.setattr(subscription, "read_chunk", read_chunk)
    w = Watcher()
    writer = await pump_run(w)
    # The first look; the growth (then once more, finding nothing); the end: not one read per
    # wake-up (six of them).
    assert reads == [0, 0, 7, 7], reads
    events = [json.loads(line) for line in writer.data.splitlines()]
    assert [e["event"] for e in events if e["event"] == "log"] == ["log"]
    assert events[-1]["event"] == "status" and events[-1]["data"]["complete"] is True
