"""The lines between a chunk's plain bars are decoded in one go (core/barscan.py
``_Chunk.gap_lines``), not gap by gap: the same lines, in the same gaps, as the line path
gives, where the join of two gaps could make a ``\\r\\n`` that no line of the log ends with, and
where an invalid UTF-8 sequence ends a gap."""

from __future__ import annotations

from typing import Any

import pytest

from rdt_tui.agent.follower import MAX_LINE
from rdt_tui.core import barscan
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser


def bar(step: int) -> bytes:
    postfix = f"loss={1 / step:.6f}, lr=1e-4"
    return f"Steps: 5%|##| {step}/99999 [00:01<00:09, 9.9it/s, {postfix}]".encode()


def check(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    used = []
    gap_lines = barscan._Chunk.gap_lines

    def counting(self: Any) -> Any:
        text, lines, counts = gap_lines(self)
        each = [self.other_lines(i) for i in self.gaps]  # gap by gap, as before
        assert lines == [x for gap in each for x in gap]
        assert counts == [len(gap) for gap in each]
        used.append(1)
        return text, lines, counts

    monkeypatch.setattr(barscan._Chunk, "gap_lines", counting)
    fast, slow = MetricParser("auto"), MetricParser("auto", fast=False)
    got = fast.parse_points(LineSplitter(0, MAX_LINE).feed_text(data)).to_list()
    want = slow.parse_lines(LineSplitter(0, MAX_LINE).feed(data))
    assert [repr(tuple(p)) for p in got] == [repr(tuple(p)) for p in want]
    assert fast.last_step == slow.last_step
    assert used  # the bars were cut from the bytes, the gaps decoded at once


def test_a_gap_ending_in_cr_before_a_gap_starting_with_lf(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `x=1\r\r` then a bar: the gap before the bar ends with the first `\r` (the second
    # starts the bar's match); the bar ends with `\n`, so the next gap starts with it. Joined,
    # the two gaps hold a `\r\n` the log never had: the line `y=2` must stay a line of its own.
    data = b"".join(bar(s) + b"\r" for s in range(1, 80))
    data += b"x=1\r\r" + bar(80) + b"\ny=2\n" + bar(81) + b"\nz=3\r\nw=4\r\n"
    data += b"".join(bar(s) + b"\r" for s in range(82, 160))
    check(data, monkeypatch)


@pytest.mark.parametrize("tail", [b"\xe2\x82", b"\xff", b"\xc3", b"\xf0\x9f\x98"])
@pytest.mark.parametrize("end", [b"\r", b"\n", b"\r\n"])
def test_an_invalid_sequence_at_the_end_of_a_gap(
    tail: bytes, end: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"".join(bar(s) + b"\r" for s in range(1, 80))
    data += b"loss=0.5 bad" + tail + end + bar(80) + b"\r" + b"\x82 a=1" + end + b"b=2" + end
    data += b"".join(bar(s) + b"\r" for s in range(81, 160))
    check(data, monkeypatch)
