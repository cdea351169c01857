"""A JSON line whose step has a leading zero (``"step": 0050``) is no JSON: the line-by-line
reference (``json.loads`` fails, and no ``key=value`` pair is in it) gives nothing for it. The
JSON-lines fast path over a read's bytes (core/jsonscan.py) took ``\\d{1,15}`` as the step and
gave a point at step 50."""

from __future__ import annotations

import pytest

from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser


@pytest.mark.parametrize("fmt", ["json", "dp", "auto"])
@pytest.mark.parametrize("step", ["0050", "00", "050"])
def test_a_step_with_a_leading_zero_gives_what_the_reference_gives(fmt: str, step: str) -> None:
    lines = [f'{{"loss": 0.5, "step": {i}}}' for i in range(1, 200)]
    lines[49] = f'{{"loss": 0.25, "step": {step}}}'
    data = ("\n".join(lines) + "\n").encode()
    got = MetricParser(fmt).parse_points(LineSplitter().feed_text(data)).to_list()
    want = MetricParser(fmt, fast=False).parse_lines(LineSplitter().feed(data))
    assert [repr(tuple(p)) for p in got] == [repr(tuple(p)) for p in want]
    assert ("loss", 0.25) not in [(p.name, p.value) for p in got]
