"""Bars around ``max_line``, the agent's 256 KiB included: the bar pattern (core/barscan.py)
bounds its five free stretches so that no line the splitter cuts is taken as a plain bar (cut,
its postfix is gone). Held to the old line path as tests/test_barscan_fuzz.py holds the rest."""

from __future__ import annotations

import random
from typing import Any

import pytest

from rdt_tui.agent.follower import MAX_LINE

from .test_barscan_fuzz import check, cuts_of, taken  # noqa: F401 (a fixture)


def bar_of_length(length: int, step: int, keys: tuple[str, ...], rng: random.Random) -> bytes:
    """A plain bar ``length`` bytes long, the room spread over its five free stretches (the
    text before n, the total, the text before the postfix, the values, the spaces after)."""
    fixed = len(f"{step}/1 [") + sum(len(f", {k}=0.") for k in keys) + 1
    room = max(length - fixed, 0)
    roll = rng.random()
    if roll < 0.3:  # all five about as long: the line is as long as the pattern allows
        cuts = [room * i // 5 + rng.randint(-1, 1) for i in range(1, 5)]
    elif roll < 0.6:  # and no spaces after: a cut line loses its postfix
        cuts = [room * i // 4 + rng.randint(-1, 1) for i in range(1, 4)] + [room]
    else:
        cuts = sorted(rng.randrange(room + 1) for _ in range(4))
    cuts = [min(max(x, 0), room) for x in cuts]
    a, b, c, d, e = (max(y - x, 0) for x, y in zip([0, *cuts], [*cuts, room], strict=True))
    values = [d // len(keys)] * len(keys)
    values[0] += d - sum(values)
    postfix = "".join(f", {k}=0.{'5' * v}" for k, v in zip(keys, values, strict=True))
    # `: ` before the postfix, not a letter: a long run of word characters in a bar's brackets
    # costs the line-by-line parser's _POSTFIX quadratic time (minutes at 256 KiB).
    line = f"{'S' * a}{step}/1{'0' * b} [{': ' * (c // 2)}{':' * (c % 2)}{postfix}]{' ' * e}"
    return line.encode()[:length] if len(line) > length else line.encode()


@pytest.mark.parametrize("max_line", [24, 40, 64, 100, 257, MAX_LINE])
def test_bars_around_max_line_are_cut_as_the_splitter_cuts_them(
    max_line: int,
    taken: dict[str, int],  # noqa: F811 (the fixture)
    tmp_path: Any,
) -> None:
    # A bar the splitter cuts (longer than max_line) is no plain bar: cut, its postfix is gone.
    rng = random.Random(max_line)
    count = 400 if max_line < 1000 else 40  # the agent's MAX_LINE: 256 KiB a line
    for keys in [("loss",), ("loss", "lr"), ("a.b", "c", "d")]:
        lines = [bar_of_length(min(max_line - 8, 200), 1, keys, rng)]  # the keys, learned here
        for step in range(10**14, 10**14 + count):  # n as long as a plain bar's may be
            length = max_line + rng.randint(-6, 6)
            lines.append(bar_of_length(length, step, keys, rng))
        data = b"\r".join(lines) + b"\n"
        check(data, "auto", cuts_of(rng, data), max_line, tmp_path / "-".join(keys), rng)
    if max_line >= 40:  # at 24 no bar fits beside its keys: every one is read line by line
        assert taken["bars"] > count // 2, taken
