"""A subscription sends a live run's new lines from the bytes its watcher's poll just read
(follower.chunk_from_last_read), not by reading output.log a second time: a trip to a worker
thread and a read a second saved. What it sends must be what read_chunk would have read."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from rdt_tui.agent import subscription
from rdt_tui.agent.follower import KEEP_READ, LogFollower, chunk_from_last_read, read_chunk
from rdt_tui.agent.watch import RunWatcher

from .fakes import OneRunStore
from .test_agent_pump_cancel import Conn, OneWatcher

LOGS = {
    "lines": b"".join(b"step=%d loss=0.%d\n" % (i, i) for i in range(300)),
    "bars and crlf": b"".join(b"Steps: %d%%|#| %d/9 [loss=0.5]\r\n" % (i, i) for i in range(200)),
    "a partial end": b"step=1\nstep=2\nstep=3 lo",
    "utf-8": "\u6b65\u9aa4=1 \u635f\u5931=0.5\n".encode() * 120 + "\u6b65".encode(),
    "a long line": b"x" * 3000 + b"\nstep=1\n",
}


@pytest.mark.parametrize("name", sorted(LOGS))
def test_a_chunk_from_the_last_read_is_what_a_read_of_the_file_gives(
    tmp_path: Any, name: str
) -> None:
    path = str(tmp_path / "output.log")
    with open(path, "wb") as fh:
        fh.write(LOGS[name])
    follower = LogFollower(path, keep_reads=True)
    follower.read_text()
    inode, start, data = follower.last_read
    assert inode == os.stat(path).st_ino and start == 0 and data == LOGS[name]
    for limit in (1, 7, 64, 1000, 1 << 20):
        for offset in range(0, len(data), max(1, len(data) // 97)):
            got = chunk_from_last_read(follower, inode, offset, limit)
            assert got == read_chunk(path, offset, limit, False), (limit, offset)
    # Not what it read: the file is read.
    assert chunk_from_last_read(follower, inode + 1, 0, 64) is None
    assert chunk_from_last_read(follower, inode, len(data), 64) is None
    assert chunk_from_last_read(follower, None, 0, 64) is None


def test_a_big_read_is_not_kept(tmp_path: Any) -> None:
    path = str(tmp_path / "output.log")
    with open(path, "wb") as fh:
        fh.write(b"step=1\n" * (KEEP_READ // 7 + 10))
    follower = LogFollower(path, keep_reads=True)
    follower.read_text()
    assert follower.last_read[2] == b""
    assert chunk_from_last_read(follower, follower.inode, 0, 64) is None


def test_a_truncated_log_keeps_nothing_of_its_old_bytes(tmp_path: Any) -> None:
    """Truncated to nothing (and not written yet): a subscription behind the old position
    must read the file (and find it empty), not be given the bytes from before."""
    path = str(tmp_path / "output.log")
    with open(path, "wb") as fh:
        fh.write(LOGS["lines"])
    follower = LogFollower(path, keep_reads=True)
    follower.read_text()
    assert chunk_from_last_read(follower, follower.inode, 100, 1 << 20) is not None
    os.truncate(path, 0)
    follower.read_text()
    assert follower.truncations == 1
    assert chunk_from_last_read(follower, follower.inode, 100, 1 << 20) is None
    assert read_chunk(path, 100, 1 << 20, False) == ("", 0, 0)


def test_only_the_followers_asked_to_keep_their_reads_do(tmp_path: Any) -> None:
    path = str(tmp_path / "train.log")  # a profile's log_files: no subscription reads it
    with open(path, "wb") as fh:
        fh.write(LOGS["lines"])
    follower = LogFollower(path)
    follower.read_text()
    assert follower.last_read == (None, 0, b"")


async def test_a_live_runs_lines_reach_the_subscription_without_a_second_read(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "output.log"
    log.write_bytes(b"")
    reads: list[int] = []

    def counted(path: str, offset: int, limit: int, final: bool) -> tuple[str, int, int]:
        reads.append(offset)
        return read_chunk(path, offset, limit, final)

    monkeypatch.setattr(subscription, "read_chunk", counted)
    w = RunWatcher(OneRunStore(tmp_path), "r1")  # type: ignore[arg-type]
    w.start()
    for _ in range(500):  # its first poll has opened the log (else the pump's first look and
        await asyncio.sleep(0.01)  # that poll race, and one more read may follow)
        if w.followers[w.output_log].inode is not None:
            break
    conn = Conn(OneWatcher(w))
    pump = asyncio.get_running_loop().create_task(subscription.pump(conn, "s1", "r1", {}, False))
    for _ in range(500):  # its first look (the run's status sent): the lines come after it
        await asyncio.sleep(0.01)
        if conn.sent:
            break
    written = b""
    try:
        for i in range(4):
            more = b"".join(b"step=%d loss=0.%d\n" % (10 * i + k, k) for k in range(10))
            with open(log, "ab") as fh:
                fh.write(more)
            written += more
            for _ in range(300):  # the watcher polls (0.2 s early on), the pump sends
                await asyncio.sleep(0.02)
                sent = "".join(m["data"]["text"] for m in conn.sent if m["event"] == "log")
                if sent == written.decode():
                    break
            assert sent == written.decode(), f"after {i + 1} writes the subscription had {sent!r}"
    finally:
        pump.cancel()
        await asyncio.wait([pump], timeout=30)
        task = w._task
        assert task is not None
        task.cancel()
        await asyncio.wait([task], timeout=30)
    # The first look only, before the watcher's first read of the run's lines.
    assert reads == [0], f"the subscription read output.log itself at offsets {reads}"
