"""A log's JSON lines of one shape, read by one whole-line regex instead of the generic path
(``metrics.py``'s ``_parse_line``: screens, ``json.loads``, ``_json_object``, ~6 us a line).

A training loop that prints ``{"val_loss": 0.31, "global_step": 400}`` between its tqdm bars
prints the same keys in the same order every time. What the generic parser makes of such a
line is known from its keys alone, when the line is exactly ``json.dumps``' spelling of an
object of plain names and numbers (``{"k": v, "k2": v2}``, no other space, no key twice):

- no screen before the JSON one can take it: it holds no colour code (none of its characters
  starts one), a ``host: `` prefix cannot match at its ``{``, and a project format's needle
  that such a line could hold (``could_hold``: none of the formats we know has one) is
  searched for on each line, one C search;
- ``json.loads`` gives a dict of exactly its keys, and ``_json_object`` its points: the step
  from the first of ``STEP_KEYS`` among them (here only a plain integer of at most 15 digits,
  so ``as_step`` keeps it), every key that is not a step key a point at that step (or at the
  last step seen, when the shape has no step key), ``float`` of its value.

A value is a JSON number, ``NaN``, ``Infinity`` or ``-Infinity`` (json reads them as
``float`` does), but never a bare ``-0`` (json's integer 0, where ``float("-0")`` is -0.0)
and never an integer of more than 300 digits (json's int would overflow ``float``, and the
reference then skips that value): those lines, and every line of another spelling (a string,
``true``, a nested object, a space more) go the generic way. ``float`` of a JSON integer's
text is ``float`` of json's int: both are correctly rounded.

The parser learns the shape from a line its generic path read as a JSON object; only
``MetricParser(fast=True)`` does. tests/test_jsonshape.py holds this to the reference.
"""

import re
from typing import Dict, Optional, Sequence, Tuple

from .kvshape import Shape, take_shape
from .metricsyntax import _STEP_KEY_SET, STEP_KEYS, LineParser, Sink

_KEY = r"[A-Za-z_][A-Za-z0-9_./-]*"
_NUM = (
    r"(?!-0[,}])-?(?:0|[1-9][0-9]{0,299})(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
    r"|NaN|-?Infinity"
)
_STEP = r"-?(?:0|[1-9][0-9]{0,14})"  # an int that as_step keeps as it is
_LINE = re.compile(r'\{"' + _KEY + '": (?:' + _NUM + r')(?:, "' + _KEY + '": (?:' + _NUM + r"))*\}")
_KEYS = re.compile(r'"(' + _KEY + ')": ')
_CACHE_MAX = 32
# What such a line is made of: ASCII names and numbers, the braces, quotes and separators.
_ALPHABET = frozenset('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-+{}":, ')


class JsonShapes:
    """The JSON-line shapes of one parser (the last learned is tried first)."""

    def __init__(self, needles: Sequence[str]) -> None:
        # The project formats' needles, tried before JSON: any of them in a line, and the
        # line goes the generic way.
        risky = [re.escape(n) for n in needles if could_hold(n)]
        self.risky = re.compile("|".join(risky)).search if risky else None
        self.current: Optional[Shape] = None
        self._cache: Dict[Tuple[str, ...], Shape] = {}

    def learn(self, text: str) -> None:
        """Take the shape of ``text`` when it is one this module reads (the generic parser
        just read it as a JSON object)."""
        if _LINE.fullmatch(text) is None:
            return
        names = tuple(_KEYS.findall(text))
        shape = self._cache.get(names)
        if shape is None:
            if len(set(names)) < len(names):
                return  # a key twice: json keeps the last value, at the first one's place
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            shape = self._cache[names] = _shape(names)
        self.current = shape

    def take(self, line: str, parser: LineParser, out: Sink) -> bool:
        """The points of ``line`` when it has the current shape; False (nothing done) when
        not (its step, an int of at most 15 digits, is kept as it is)."""
        return take_shape(self.current, self.risky, line, parser, out)


def _shape(names: Tuple[str, ...]) -> Shape:
    step_key = next((k for k in STEP_KEYS if k in names), None)
    step_at = None if step_key is None else names.index(step_key)
    pattern = re.compile(
        r"\{"
        + ", ".join(
            '"' + re.escape(n) + '": (' + (_STEP if i == step_at else _NUM) + ")"
            for i, n in enumerate(names)
        )
        + r"\}"
    )
    points = tuple((i, n) for i, n in enumerate(names) if n not in _STEP_KEY_SET)
    return Shape(pattern, names, points, step_at)


def could_hold(needle: str) -> bool:
    """Whether a line this module reads could hold ``needle``: only its characters, and each
    space in it after a ``:`` or a ``,`` (as ``json.dumps`` writes them)."""
    if not set(needle) <= _ALPHABET:
        return False
    return all(needle[i - 1] in ":," for i, c in enumerate(needle) if c == " " and i)
