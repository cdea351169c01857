"""The bar scanner (core/barscan.py) hands the line-by-line parser exactly the lines that are not
plain bars, as the splitter cuts them: every line end (\\n, \\r\\n, a lone \\r) ends one line,
an empty line is a line, and the last terminator of a chunk opens none. Empty lines give no
points, so this is checked on the lines themselves, not on the points."""

from __future__ import annotations

from typing import Any

import pytest

from rdt_tui.core import fastscan
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser


def bar(step: int) -> str:
    return f"Steps:  5%|#   | {step}/900 [00:01<00:02, 3.0it/s, loss={1 / step:.4g}, lr=0.1]"


@pytest.mark.parametrize("end", ["\r\n", "\n", "\r", "\r\r\n", "\r\n\r\n"])
def test_the_other_lines_are_the_splitters_lines_between_the_bars(
    end: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastscan, "MIN_LINES", 1)
    pieces = []
    for step in range(1, 200):
        pieces.append(bar(step) + "\r")
        if step % 7 == 0:
            pieces.append(bar(step) + "\r\n")  # a bar ended by CRLF before another bar
        if step % 5 == 0:
            pieces.append("note: a" + end)
        if step % 11 == 0:
            pieces.append(end)  # an empty line (two, for \r\n\r\n)
    pieces.append("last line" + end)
    data = "".join(pieces).encode()
    lines = LineSplitter().feed(data)
    want = [x for x in lines if not x.startswith("Steps:")]
    assert "" in want and "note: a" in want

    seen: list[str] = []
    parser = MetricParser("auto")
    one = parser._parse_one

    def record(line: str, out: Any) -> None:
        seen.append(line)
        one(line, out)

    monkeypatch.setattr(parser, "_parse_one", record)
    got = parser.parse_points(LineSplitter().feed_text(data)).to_list()
    assert seen == want
    assert got == MetricParser("auto", fast=False).parse_lines(lines)
    assert len(got) == 2 * 199  # a bar repainted after CRLF gives no second point
