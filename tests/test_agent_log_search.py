"""The agent's log search (agent/logsearch.py) against a plain line-by-line scan, with blocks
small enough that lines and matches meet every block edge; and the op through the agent."""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any

import pytest

from rdt_tui.agent import logsearch
from rdt_tui.client import AgentClient
from rdt_tui.client.agent_client import AgentCallError
from rdt_tui.transport.local import LocalTransport

from .biglog import run_with_log


def reference(data: bytes, needles: list[bytes], ignore_case: bool) -> list[int]:
    """Offsets of the lines holding a needle, by the plainest scan there is."""
    out, pos = [], 0
    for line in data.split(b"\n"):
        hay = line.lower() if ignore_case else line
        if any(n in hay for n in needles):
            out.append(pos)
        pos += len(line) + 1
    return out[:-1] if data.endswith(b"\n") and out and out[-1] == len(data) else out


def walk(path: str, needles: list[bytes], ignore_case: bool, backward: bool, size: int) -> list:
    """Every match, one call at a time from where the last one stopped (as `n` does)."""
    found, pos = [], size if backward else 0
    for _ in range(10000):
        got = logsearch.search(path, needles, None, ignore_case, pos, backward, 1, 5.0)
        found += [m["offset"] for m in got["matches"]]
        if got["done"] and not got["matches"]:
            return found
        pos = got["next"]
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize("block", [64, 200, 1000])
def test_every_match_found_forward_and_backward_at_any_block_size(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(logsearch, "BLOCK", block)
    rng = random.Random(block)
    # Lines shorter than a block (longer ones: the test below), meeting every block edge.
    words = ["step", "loss", "Traceback", "NCCL", "ok", "x" * 12, "\u00e9t\u00e9"]
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 5))) for _ in range(400)]
    data = ("\n".join(lines) + "\n").encode()
    path = str(tmp_path / "output.log")
    with open(path, "wb") as fh:
        fh.write(data)
    for needles, ignore in (([b"Traceback"], False), ([b"nccl"], True), ([b"NCCL", b"ok"], False)):
        want = reference(data, needles, ignore)
        assert want, "the corpus must hold matches"
        assert walk(path, needles, ignore, False, len(data)) == want
        assert walk(path, needles, ignore, True, len(data)) == want[::-1]
        many = logsearch.search(path, needles, None, ignore, 0, False, 1000, 5.0)
        assert [m["offset"] for m in many["matches"]] == want and many["done"]


def test_a_match_reports_its_line_and_where_to_go_on(tmp_path: Any) -> None:
    path = str(tmp_path / "output.log")
    with open(path, "wb") as fh:
        fh.write(b"alpha\nbeta NCCL error and Traceback\ngamma\n")
    got = logsearch.search(path, [b"Traceback", b"NCCL"], None, False, 0, False, 10, 5.0)
    assert got["matches"] == [
        {"offset": 6, "end": 36, "at": 11, "text": "beta NCCL error and Traceback"}
    ]  # one line, though two words hold it
    assert got["done"] and got["size"] == 42
    missing = logsearch.search(str(tmp_path / "none"), [b"x"], None, False, 0, False, 1, 1.0)
    assert missing == {"matches": [], "next": 0, "done": True, "size": 0}


@pytest.mark.parametrize("backward", [False, True])
def test_a_line_longer_than_a_block_is_searched_across_block_edges(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, backward: bool
) -> None:
    monkeypatch.setattr(logsearch, "BLOCK", 64)
    path = str(tmp_path / "output.log")
    data = b"short\n" + b"y" * 1000 + b"".join(b"Traceback" + b"z" * 50 for _ in range(40)) + b"\n"
    with open(path, "wb") as fh:
        fh.write(data)
    found = []
    pos = len(data) if backward else 0
    for _ in range(1000):
        got = logsearch.search(path, [b"Traceback"], None, False, pos, backward, 1, 5.0)
        found += [m["at"] for m in got["matches"]]
        if got["done"] and not got["matches"]:
            break
        pos = got["next"]
    want = [1006 + 59 * i for i in range(40)]
    # Every match, each once, whichever block edge it straddles.
    assert sorted(found) == want and len(found) == 40


def test_a_search_is_bounded_in_time_and_stops_when_cancelled(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logsearch, "BLOCK", 1024)
    path = str(tmp_path / "output.log")
    with open(path, "wb") as fh:
        fh.write(b"filler line\n" * 100000 + b"needle\n")
    cancel = threading.Event()
    cancel.set()
    got = logsearch.search(path, [b"needle"], None, False, 0, False, 1, 30.0, cancel)
    assert not got["matches"] and not got["done"] and 0 < got["next"] <= 1024
    got = logsearch.search(path, [b"needle"], None, False, 0, False, 1, 0.0)
    assert not got["done"] and got["next"] <= 1024  # one block, then the budget is spent
    assert walk(path, [b"needle"], False, False, 0) == [1200000]


async def test_the_op_through_the_real_agent(state_dir: str, tmp_path: Any) -> None:
    path = str(tmp_path / "log")
    with open(path, "wb") as fh:
        fh.write(b"one\nTwo errors\nthree\ntwo\n")
    async with AgentClient(LocalTransport(state_dir)) as client:
        run = await run_with_log(client, state_dir, path)
        got = await client.log_search(run, "two")  # lower case: any case
        assert [m["offset"] for m in got["matches"]] == [4]
        got = await client.log_search(run, "two", got["matches"][0]["end"])
        assert [m["text"] for m in got["matches"]] == ["two"]
        got = await client.log_search(run, "Two", 22, backward=True)  # a capital: exact case
        assert [m["offset"] for m in got["matches"]] == [4]
        got = await client.log_search(run, ["three", "one"], 0, limit=5)
        assert [m["text"] for m in got["matches"]] == ["one", "three"]
        got = await client.log_search(run, "t.o", regex=True, limit=5)
        assert [m["offset"] for m in got["matches"]] == [4, 21]
        with pytest.raises(AgentCallError) as bad:
            await client.log_search(run, "(", regex=True)
        assert "regular expression" in str(bad.value)
        with pytest.raises(AgentCallError):
            await client.log_search(run, "")
        await asyncio.sleep(0)
