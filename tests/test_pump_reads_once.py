"""A subscription reads output.log once per change the watcher saw: a read that reached what
the watcher had seen is not followed by a second, empty one (a worker thread's trip a poll).
And the GPU samples after a position are found from the end of the hour kept, in order."""

from __future__ import annotations

import json

import pytest

from rdt_tui.agent import subscription

from .test_daemon_pump import Watcher, pump_run


class EndsAtThirdWake(Watcher):
    def __init__(self) -> None:
        super().__init__()
        self.follower.read_to = 14

    async def wait(self, timeout: float) -> None:
        self.wakes += 1
        if self.wakes == 3:
            self.finished = True


async def pumped(w: Watcher, reads: list[int], chunk: str) -> list[dict]:
    def read_chunk(path: str, offset: int, limit: int, final: bool) -> tuple[str, int, int]:
        reads.append(offset)
        if offset == 0:
            return chunk, 0, len(chunk)
        return "", offset, offset

    mp = pytest.MonkeyPatch()
    mp.setattr(subscription, "read_chunk", read_chunk)
    try:
        writer = await pump_run(w)
    finally:
        mp.undo()
    return [json.loads(line) for line in writer.data.splitlines()]


@pytest.mark.asyncio
async def test_a_read_that_reached_the_watchers_view_is_not_repeated() -> None:
    reads: list[int] = []
    events = await pumped(EndsAtThirdWake(), reads, "step=1\nstep=2\n")  # 14 bytes: all seen
    # The first read takes all the watcher saw; the next is at the run's end (its view
    # changed), not one right after the first.
    assert reads == [0, 14], reads
    logs = [e for e in events if e["event"] == "log"]
    assert [e["data"]["text"] for e in logs] == ["step=1\nstep=2\n"]
    assert events[-1]["event"] == "status" and events[-1]["data"]["complete"] is True


@pytest.mark.asyncio
async def test_a_read_short_of_the_watchers_view_reads_again() -> None:
    reads: list[int] = []
    await pumped(EndsAtThirdWake(), reads, "step=1\n")  # 7 of the 14 bytes the watcher saw
    assert reads[:2] == [0, 7], reads


def test_samples_after_a_position_come_in_order_from_the_end() -> None:
    samples = [(seq, {"n": seq}) for seq in range(1, 3601)]
    for since in (0, 1, 1800, 3599, 3600, 5000):
        expected = [(s, x) for s, x in samples if s > since]
        assert subscription._after(samples, since) == expected
    assert subscription._after([], 3) == []
