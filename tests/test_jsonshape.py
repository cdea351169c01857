"""JSON lines read by their learned shape's regex (core/jsonshape.py) give exactly what the
generic parser gives (``MetricParser(fast=False)``, which never takes that path): the same
points (names, values to the sign of a zero, steps, order) and the same last step, line after
line, for lines of the shape and for every near miss a job could print: a nested object, a
string, ``true``, ``null``, a key twice, other spacing, ``NaN``/``Infinity``, integers too big
for a float, ``-0``, step keys in any place and case, steps that are no plain integer, colour
codes, a ``host:`` prefix, a project format's needle."""

from __future__ import annotations

import random
from typing import Any

import pytest

from rdt_tui.core import jsonshape, kvshape
from rdt_tui.core.formats import FORMATS
from rdt_tui.core.metrics import MetricParser

NAMES = ["val_loss", "loss", "lr", "train/loss", "a.b-c", "_x", "Iter", "NaN", "e"]
STEPS = ["global_step", "step", "iteration", "iter", "it", "Step", "epoch"]
VALUES = ["0.5", "1", "-2", "1e-05", "2.5E+3", "0", "-0.0", "NaN", "Infinity", "-Infinity"]
VALUES += ["123456789012345678901234567890", "9" * 300, "1" + "0" * 310 + ".5", "-0e1"]
ODD = ["-0", "9" * 301, "9" * 400, "true", "false", "null", '"0.5"', '{"a": 1}', "[1]"]
ODD += ["007", "1.", ".5", "+1", "nan", "inf", "1e", "0x10", "\u0663", "1_0", "5.0", "-5"]
STEP_VALUES = ["0", "7", "123456789012345", "-3", "-0"]
STEP_ODD = ["1234567890123456", "9007199254740993", "99999999999999999", "5.0", "1e3", "NaN"]
STEP_ODD += ["1e20", "true", '"5"', "Infinity"]


def obj(keys: list[str], rng: random.Random, odd: float = 0.0) -> str:
    parts = []
    for k in keys:
        if k in STEPS[:5]:
            pool = STEP_ODD if rng.random() < odd else STEP_VALUES
        else:
            pool = ODD if rng.random() < odd else VALUES
        parts.append(f'"{k}": {rng.choice(pool)}')
    return "{" + ", ".join(parts) + "}"


def line(rng: random.Random, shapes: list[list[str]]) -> str:
    keys = rng.choice(shapes)
    if rng.random() < 0.6:
        return obj(keys, rng)
    good = obj(keys, rng)
    variants = [
        lambda: obj(keys, rng, odd=0.5),
        lambda: good.replace(": ", ":", 1),
        lambda: good.replace(", ", ",  ", 1),
        lambda: good.replace("{", "{ ", 1),
        lambda: good + " ",
        lambda: " " + good,
        lambda: good[:-1] + ', "' + keys[0] + '": 2}',  # a key twice
        lambda: good[:-1] + ', "extra": {"deep": 1}}',
        lambda: good[:-1] + ', "note": "x"}',
        lambda: good[:-1] + ', "flag": true}',
        lambda: good[:-1] + ', "step": 3}',
        lambda: good[:-1] + ', "' + rng.choice(STEPS) + '": ' + rng.choice(VALUES) + "}",
        lambda: good.replace('"', "\\u0022", 0).replace(keys[0], keys[0][:1] + "\\u0041", 1),
        lambda: "\x1b[1m" + good + "\x1b[0m",
        lambda: "node1: " + good,
        lambda: good + good,
        lambda: good.replace("}", ", }"),
        lambda: good[:-1],
        lambda: "{}",
        lambda: '{"Train. Iter 5 :": 1}',
        lambda: good.replace(keys[0], "Iter ", 1),
        lambda: good.replace(keys[0], "x_sample_mse'", 1),
    ]
    return rng.choice(variants)()


def same(got: Any, want: Any) -> bool:
    return [repr(tuple(p)) for p in got] == [repr(tuple(p)) for p in want]  # -0.0, nan


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fmt", ["auto", "json", "dp", "rdt"])
def test_json_lines_give_what_the_generic_parser_gives(
    seed: int, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = []
    take = jsonshape.JsonShapes.take

    def counting(self: Any, *args: Any) -> bool:
        done = take(self, *args)
        taken.append(done)
        return done

    monkeypatch.setattr(jsonshape.JsonShapes, "take", counting)
    rng = random.Random(seed)
    shapes = [rng.sample(NAMES, rng.randint(1, 3)) for _ in range(3)]
    for keys in shapes:  # a step key somewhere, or none
        if rng.random() < 0.7:
            keys.insert(rng.randint(0, len(keys)), rng.choice(STEPS))
    fast, slow = MetricParser(fmt), MetricParser(fmt, fast=False)
    for _ in range(1500):
        text = line(rng, shapes)
        if rng.random() < 0.05:
            text = f"x={rng.randint(0, 9)}"  # a line of no JSON: moves the last step
        got, want = fast.parse_lines([text]), slow.parse_lines([text])
        assert same(got, want), text
        assert fast.last_step == slow.last_step, text
    if FORMATS[fmt].json:
        assert sum(taken) > 150  # the regexes really read the lines of the shape last learned
    else:
        assert not any(taken)  # a format without JSON lines never takes the path


def test_a_json_shape_is_learned_and_read_without_the_generic_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parser = MetricParser("auto")
    first = parser.parse_lines(['{"val_loss": 0.5, "global_step": 3}'])
    assert first == [("val_loss", 0.5, 3)]
    monkeypatch.setattr(parser, "_parse_line", lambda *a: pytest.fail("generic parse"))
    assert parser.parse_lines(['{"val_loss": 0.25, "global_step": 4}']) == [("val_loss", 0.25, 4)]
    assert parser.last_step == 4


@pytest.mark.parametrize(
    ("teacher", "text", "want"),
    [
        # the step is the first of STEP_KEYS present, not the first in the line
        ('{"step": 1, "global_step": 1, "loss": 1}', '{"step": 1, "global_step": 2, "loss": 0.5}',
         [("loss", 0.5, 2)]),
        ('{"it": 1, "iter": 1, "loss": 1}', '{"it": 1, "iter": 2, "loss": 0.5}',
         [("loss", 0.5, 2)]),
        ('{"Step": 1, "loss": 1}', '{"Step": 9, "loss": 0.5}',
         [("Step", 9.0, 5), ("loss", 0.5, 5)]),  # a step key's case counts
        ('{"loss": 1, "global_step": 1}', '{"loss": -0, "global_step": 6}',
         [("loss", 0.0, 6)]),  # json's integer 0
        ('{"loss": 1, "global_step": 1}', '{"loss": -0.0, "global_step": 6}',
         [("loss", -0.0, 6)]),
        ('{"loss": 1, "global_step": 1}', '{"loss": 1, "loss": 2, "global_step": 6}',
         [("loss", 2.0, 6)]),  # json keeps the last value, at the first key's place
        ('{"loss": 1, "global_step": 1}', '{"loss": ' + "9" * 400 + ', "global_step": 6}',
         []),  # json's int overflows a float: the value gives nothing
        ('{"loss": 1, "global_step": 1}', '{"loss": 0.5, "global_step": 1e20}',
         []),  # no step can be: nothing
        ('{"loss": 1, "global_step": 1}', '{"loss": 0.5, "global_step": -0}',
         [("loss", 0.5, 0)]),
        ('{"loss": 1}', '{"loss": NaN}', [("loss", float("nan"), 5)]),
    ],
)  # fmt: skip
def test_spellings_where_float_of_the_text_is_not_what_json_gives(
    teacher: str, text: str, want: list[tuple[str, float, int]]
) -> None:
    for fast in (True, False):
        parser = MetricParser("auto", fast=fast)
        parser.parse_lines([teacher])  # the shape, learned
        parser.last_step = 5
        got = parser.parse_lines([text])
        assert [repr(tuple(p)) for p in got] == [repr(p) for p in want], (fast, text)


def test_a_needle_a_shaped_line_could_hold_sends_it_the_generic_way() -> None:
    """The formats we know have no needle a shaped line could hold; one that could is
    searched for on every line (``could_hold`` says which)."""
    for fmt in FORMATS:
        parser = MetricParser(fmt)
        assert parser._json is None or parser._json.risky is None, fmt
        assert parser._kv is None or parser._kv.risky is None, fmt
    assert jsonshape.could_hold('"lr": 1')
    assert not jsonshape.could_hold("Iter ")  # a space after `r`: never in such a line
    assert not jsonshape.could_hold("[info]")
    assert kvshape.could_hold("5 lr") and kvshape.could_hold("nan x")
    assert kvshape.could_hold("lé")  # a name may hold letters beyond ASCII
    assert not kvshape.could_hold("Iter ") and not kvshape.could_hold(" ..")
    shapes = jsonshape.JsonShapes(['"lr": 1', "Iter "])
    shapes.learn('{"lr": 2, "global_step": 1}')
    parser = MetricParser("auto")
    assert shapes.take('{"lr": 3, "global_step": 2}', parser, [])
    assert not shapes.take('{"lr": 1, "global_step": 2}', parser, [])  # holds the needle
    kv = kvshape.KvShapes(["5 lr"], frozenset())
    kv.learn("step=4 lr=1")
    assert kv.take("step=4 lr=1", parser, [])
    assert not kv.take("step=5 lr=1", parser, [])
