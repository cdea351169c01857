"""Pure key=value lines read by their shape's regex (core/kvshape.py) give exactly what the
generic parser gives (``MetricParser(fast=False)``, which never takes that path): the same
points in order and the same last step, line after line, for shapes that change, step keys in
any case, names that give no point, every number the parser reads and lines that only look
pure."""

from __future__ import annotations

import random
from typing import Any

import pytest

from rdt_tui.core import kvshape
from rdt_tui.core.metrics import MetricParser

NUMBERS = ["1", "0.5", "-0.25", "+.5", "1.", "1e-3", "1E+05", "nan", "-inf", "+NaN", "007"]
ODD = ["1e", "1.2.3", "x", "", " 1", "1_0", "١٢", "0x10", "1e400", "1" * 30]
NAMES = ["loss", "lr", "grad_norm", "train/loss", "a.b-c", "_x", "Step", "step", "STEP",
         "global_step", "iter", "pid", "Rank", "self.x", "épsilon", "Iter", "NCCL"]  # fmt: skip


def pure(rng: random.Random, names: list[str]) -> str:
    return " ".join(f"{n}={rng.choice(NUMBERS)}" for n in names)


def line(rng: random.Random, shapes: list[list[str]]) -> str:
    names = rng.choice(shapes)
    kind = rng.random()
    if kind < 0.7:
        return pure(rng, names)
    choices = [
        lambda: pure(rng, names).replace("=", "= ", 1),
        lambda: pure(rng, names) + " ",
        lambda: " " + pure(rng, names),
        lambda: pure(rng, names).replace(" ", "  ", 1),
        lambda: pure(rng, names) + f" {rng.choice(NAMES)}={rng.choice(ODD)}",
        lambda: " ".join(f"{n}={rng.choice(NUMBERS + ODD)}" for n in names),
        lambda: pure(rng, names) + " NCCL INFO x",
        lambda: "step=1e20 " + pure(rng, names),
        lambda: pure(rng, names).replace(" ", ", "),
        lambda: "INFO:root:" + pure(rng, names),
        lambda: f"val_loss: {rng.random():.3f}, " + pure(rng, names),
        lambda: "\x1b[1m" + pure(rng, names) + "\x1b[0m",
        lambda: pure(rng, names) + " Iter 5",
        lambda: pure(rng, names) + " ..b=1",
    ]
    return rng.choice(choices)()


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("fmt", ["auto", "rdt", "json"])
def test_pure_lines_give_what_the_generic_parser_gives(
    seed: int, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = []
    take = kvshape.KvShapes.take

    def counting(self: Any, *args: Any) -> bool:
        done = take(self, *args)
        taken.append(done)
        return done

    monkeypatch.setattr(kvshape.KvShapes, "take", counting)
    rng = random.Random(seed)
    shapes = [rng.sample(NAMES, rng.randint(1, 4)) for _ in range(3)]
    fast, slow = MetricParser(fmt), MetricParser(fmt, fast=False)
    for _ in range(800):
        text = line(rng, shapes)
        got, want = fast.parse_lines([text]), slow.parse_lines([text])
        assert [repr(tuple(p)) for p in got] == [repr(tuple(p)) for p in want], text
        assert fast.last_step == slow.last_step, text
    if fmt == "auto":
        assert sum(taken) > 100  # the shapes' regexes really read most pure lines
    else:
        assert not any(taken)  # a format without key=value guessing never takes the path


def test_a_shape_is_learned_and_read_without_the_generic_screens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parser = MetricParser("auto")
    assert parser.parse_lines(["step=3 loss=0.5 pid=7"]) == [("loss", 0.5, 3)]
    monkeypatch.setattr(parser, "_parse_line", lambda *a: pytest.fail("generic parse"))
    assert parser.parse_lines(["step=4 loss=0.25 pid=8"]) == [("loss", 0.25, 4)]
    assert parser.parse_lines(["step=1e20 loss=0.25 pid=8"]) == []
    assert parser.last_step == 4
