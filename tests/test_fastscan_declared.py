"""The fast path a format gets follows what it declares in ``core/formats.FORMATS`` (tqdm bars,
JSON lines), not its name: a new format that takes bars or JSON lines is fast without an edit
of ``core/fastscan.py``, and reads as the line-by-line reference does."""

from __future__ import annotations

import pytest

from rdt_tui.core import fastscan
from rdt_tui.core.formats import FORMATS, Format
from rdt_tui.core.metrics import MetricParser


def test_the_shipped_formats_keep_their_fast_paths() -> None:
    paths = {name: fastscan.fast_path(name) for name in FORMATS}
    assert paths == {
        "auto": fastscan.parse_lines,
        "rdt": fastscan.parse_lines,
        "dp": fastscan.parse_json_lines,
        "json": fastscan.parse_json_lines,
        "libero": fastscan.parse_shaped,
        "gesturelsm": fastscan.parse_shaped,
        "gesturelsm-rvq": fastscan.parse_shaped,
    }


def test_a_new_format_gets_the_fast_path_of_what_it_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(FORMATS, "new-bars", Format([], tqdm=True))
    monkeypatch.setitem(FORMATS, "new-json", Format([], json=True))
    monkeypatch.setitem(FORMATS, "new-nothing", Format([]))
    assert fastscan.fast_path("new-bars") is fastscan.parse_lines
    assert fastscan.fast_path("new-json") is fastscan.parse_json_lines
    assert fastscan.fast_path("new-nothing") is None

    n = 4 * fastscan.MIN_LINES
    bars = [f"Steps: {i}/{n} [00:01<00:02, 2.0s/it, loss={i / 7:.5f}, lr=1e-4]" for i in range(n)]
    objects = [f'{{"global_step": {i}, "train_loss": {i / 3:.4f}, "epoch": 1}}' for i in range(n)]
    for fmt, lines in (("new-bars", bars), ("new-json", objects)):
        fast = MetricParser(fmt).parse_points(lines)
        assert fast.to_list() == MetricParser(fmt, fast=False).parse_lines(lines)
        # the fast path read them: runs kept as columns, not a list of points
        assert any(not isinstance(part, list) for part in fast.parts)
        assert len(fast) == 2 * n
