"""Formats declare what they take (JSON lines, tqdm bars, guessed key=value pairs), so a new
format is one entry in ``core/formats.FORMATS`` and the generic parser names no format; and
``core/formats`` no longer imports ``core/metrics`` (the points live in ``core/points``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rdt_tui.core import formats
from rdt_tui.core.formats import FORMATS, Format, ParseState
from rdt_tui.core.metrics import MetricParser
from rdt_tui.core.points import MetricPoint

BAR = "Steps:  12%|#2  | 24/200 [00:48<05:52, 2.0s/it, loss=0.0152]"
JSON = '{"global_step": 7, "train_loss": 0.5}'
PAIRS = "val_loss: 0.25"


def parse(fmt: str, lines: list[str]) -> list[MetricPoint]:
    return MetricParser(fmt, fast=False).parse_lines(lines)


@pytest.mark.parametrize("fast", [False, True])
def test_a_new_format_takes_what_it_declares_without_editing_the_parser(
    monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    monkeypatch.setitem(FORMATS, "new-json", Format([], json=True))
    monkeypatch.setitem(FORMATS, "new-bars", Format([], tqdm=True))
    monkeypatch.setitem(FORMATS, "new-nothing", Format([]))
    lines = [BAR, JSON, PAIRS]
    assert MetricParser("new-json", fast=fast).parse_lines(lines) == [
        MetricPoint("train_loss", 0.5, 7)
    ]
    assert MetricParser("new-bars", fast=fast).parse_lines(lines) == [
        MetricPoint("loss", 0.0152, 24)
    ]
    assert MetricParser("new-nothing", fast=fast).parse_lines(lines) == []


def test_a_new_format_with_a_matcher_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    def speed(line: str, p: ParseState) -> list[MetricPoint] | None:
        return [MetricPoint("fps", float(line.split()[-1]), p.last_step)]

    monkeypatch.setitem(FORMATS, "fps", Format([("fps ", speed)], tqdm=True))
    assert parse("fps", [BAR, "host1: fps 30.5", PAIRS]) == [
        MetricPoint("loss", 0.0152, 24),
        MetricPoint("fps", 30.5, 24),
    ]


def test_the_shipped_formats_declare_what_they_took_before() -> None:
    """The table that replaced the parser's `fmt in ("dp", "json")` and `fmt == "rdt"`."""
    took = {name: (f.json, f.tqdm, f.key_value) for name, f in FORMATS.items()}
    assert took == {
        "rdt": (False, True, False),
        "dp": (True, False, False),
        "json": (True, False, False),
        "gesturelsm-rvq": (False, False, False),
        "gesturelsm": (False, False, False),
        "libero": (False, False, False),
        "auto": (True, True, True),
    }
    assert parse("auto", [BAR, JSON, PAIRS]) == [
        MetricPoint("loss", 0.0152, 24),
        MetricPoint("train_loss", 0.5, 7),
        MetricPoint("val_loss", 0.25, 7),
    ]


def test_an_unknown_format_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: auto, dp"):
        formats.metric_format("nope")


def test_formats_does_not_import_the_generic_parser() -> None:
    code = "import sys, rdt_tui.core.formats; print('rdt_tui.core.metrics' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"
