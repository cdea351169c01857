"""A log's ``key=value`` lines of one shape, read by one whole-line regex instead of the generic
screens (``metrics.py``'s ``_parse_line``): ``step=12 loss=0.0833 grad_norm=0.43`` costs
~6 us through them, most of it the ``key=value`` regex searching every position.

A *pure* line is nothing but ``name=number`` tokens, one space apart. What the generic parser
makes of it is known in advance: the project matchers, JSON, tqdm, chatter, glog, exception
and ``logging`` screens cannot take it (each needs a character or a word such a line cannot
hold; a needle it could hold, ``could_hold``, is searched for on each line in one C call:
none of the formats we know has one), and its pairs are its tokens. So the points follow
from the names alone: the first step key gives the step (``as_step`` of its text, the line
giving nothing when it is not one), names of processes (``pid``, ``rank``...) and ``self.``
attributes give none, every other name gives ``float`` of its text.

The parser learns the shape from a pure line it parsed the generic way, then reads lines of
that shape by ``fullmatch``. Only ``MetricParser(fast=True)`` does: the reference stays the
generic parser, which tests/test_kvshape.py holds this to.
"""

import re
from itertools import compress
from typing import Callable, Dict, NamedTuple, Optional, Sequence, Tuple

from .metricsyntax import _NUMBER, _STEP_KEY_SET, LineParser, Sink
from .points import MetricPoint, as_step

_NAME = r"[A-Za-z_][\w./-]*"
_PURE = re.compile(_NAME + "=(?:" + _NUMBER + ")(?: " + _NAME + "=(?:" + _NUMBER + "))*")
_NAMES = re.compile("(?:^| )(" + _NAME + ")=")
# What a pure line is made of (and, in names and values, letters and digits beyond ASCII).
_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-=+ ")
# A space in a pure line ends a number and starts a name.
_NUMBER_ENDS = frozenset(".nNfF")
_NAME_STARTS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_CACHE_MAX = 32


class Shape(NamedTuple):
    pattern: "re.Pattern[str]"
    names: Tuple[str, ...]
    points: Tuple[Tuple[int, str], ...]  # the tokens that give a point: (index, name)
    step_at: Optional[int]  # the first step key's token


class KvShapes:
    """The shapes of one parser's pure lines (the last learned is tried first)."""

    def __init__(self, needles: Sequence[str], not_metrics: "frozenset[str]") -> None:
        # The screens' needles a pure line could hold, as one pattern: one C search a line
        # (none for the formats we know: each of their needles has a space a pure line
        # cannot have, or a character it cannot hold).
        risky = [re.escape(n) for n in needles if could_hold(n)]
        self.risky = re.compile("|".join(risky)).search if risky else None
        self.not_metrics = not_metrics
        self.current: Optional[Shape] = None
        self._cache: Dict[Tuple[str, ...], Shape] = {}

    def learn(self, line: str) -> None:
        """Take the shape of ``line`` if it is pure (the generic parser just read it)."""
        if _PURE.fullmatch(line) is None:
            return
        names = tuple(_NAMES.findall(line))
        shape = self._cache.get(names)
        if shape is None:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            shape = self._cache[names] = self._shape(names)
        self.current = shape

    def _shape(self, names: Tuple[str, ...]) -> Shape:
        pattern = re.compile(" ".join(re.escape(n) + "=(" + _NUMBER + ")" for n in names))
        lows = [n.lower() for n in names]
        counted = [not (low in self.not_metrics or low.startswith("self.")) for low in lows]
        step_at = next(
            (i for i, low in enumerate(lows) if counted[i] and low in _STEP_KEY_SET), None
        )
        keep = [c and low not in _STEP_KEY_SET for c, low in zip(counted, lows)]
        return Shape(pattern, names, tuple(compress(enumerate(names), keep)), step_at)

    def take(self, line: str, parser: LineParser, out: Sink) -> bool:
        """The points of ``line`` when it has the current shape; False (nothing done) when
        not."""
        return take_shape(self.current, self.risky, line, parser, out)


def take_shape(
    shape: Optional[Shape],
    risky: Optional[Callable[[str], object]],
    line: str,
    parser: LineParser,
    out: Sink,
) -> bool:
    """The points of ``line`` when it fullmatches ``shape`` and ``risky`` finds nothing in
    it; False (nothing done) when not. A key=value line's and a JSON line's shape alike."""
    if shape is None:
        return False
    found = shape.pattern.fullmatch(line)
    if found is None or (risky is not None and risky(line) is not None):
        return False
    values = found.groups()
    at = shape.step_at
    if at is None:
        step = parser.last_step
    else:
        text = values[at]
        # as_step's int(float(text)), without its checks where the text is 15 digits
        step = int(text) if len(text) < 16 and text.isdecimal() else as_step(text)
        if step is None:
            return True  # step=1e20: the line gives nothing, as the generic parser says
        parser.last_step = step
    make = tuple.__new__
    for j, name in shape.points:
        out.append(make(MetricPoint, (name, float(values[j]), step)))
    return True


def could_hold(needle: str) -> bool:
    """Whether some pure line could hold ``needle``: only characters a pure line has (any
    beyond ASCII counts as possible: names and numbers take letters and digits of every
    script), and each space in it after what can end a number (a digit, ``.``, the ``n``
    or ``f`` of ``nan``/``inf``) and before what can start a name."""
    if not all(c in _ALPHABET or c > "\x7f" for c in needle):
        return False
    for i, c in enumerate(needle):
        if c != " ":
            continue
        before = needle[i - 1] if i else "0"
        after = needle[i + 1] if i + 1 < len(needle) else "a"
        if not (before in _NUMBER_ENDS or before.isdecimal()) or after not in _NAME_STARTS:
            return False
    return True
