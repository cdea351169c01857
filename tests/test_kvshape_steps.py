"""A pure ``key=value`` line's step read without ``as_step`` where its text is at most 15
decimal digits (core/kvshape.py): the same step as the generic parser's ``as_step`` (which
goes through a float) for every step text the line's regex takes, those beyond ``MAX_STEP``
and those a float rounds (``9007199254740993``) included."""

from __future__ import annotations

import pytest

from rdt_tui.core.metrics import MetricParser

STEPS = ["0", "7", "007", "999999999999999", "1234567890123456", "9007199254740992"]
STEPS += ["9007199254740993", "99999999999999999", "\u0663\u0661", "+5", "-5", "1e3", "5.0"]
STEPS += ["nan", "-inf", "1e20", ".5", "5."]


@pytest.mark.parametrize("text", STEPS)
def test_a_step_text_gives_the_generic_parsers_step(text: str) -> None:
    fast, slow = MetricParser("auto"), MetricParser("auto", fast=False)
    for parser in (fast, slow):
        parser.parse_lines(["step=1 loss=0.5"])  # the shape, learned
        parser.last_step = 3
    taken = fast._kv is not None and fast._kv.current is not None
    line = f"step={text} loss=0.25"
    got, want = fast.parse_lines([line]), slow.parse_lines([line])
    assert [repr(tuple(p)) for p in got] == [repr(tuple(p)) for p in want]
    assert fast.last_step == slow.last_step
    assert taken
