"""JSON lines of one shape cut from a chunk of log *bytes* in one C call (the ``dp`` and ``json``
formats: Diffusion Policy's ``logs.json.txt``, one ``json.dumps`` object a line).

A training loop writes the same keys in the same order every step. The chunk's first object
gives that shape; one compiled pattern then matches exactly the lines that are that object
with numbers for values, as ``json.dumps`` writes it (``{"k": v, "k2": v2}``), and
``re.split`` hands back their values as columns with the text of every other line between
them. Those other lines (another shape, a string value, a step that is not a plain integer)
are decoded and read by the line-by-line parser, the reference. The objects' points are what
``MetricParser._json_object`` gives: the step from the first step key, every other number a
point at that step (JSON's ``NaN``/``Infinity`` as Python's json reads them).

Two spellings would give another float through ``float`` of the text than through json:
``-0`` (json: the integer 0) is left to the reference, and an integer is at most 300 digits
(json's would overflow ``float``; the reference then skips that value).
"""

import gc
import json
import re
from itertools import compress
from typing import Dict, List, Optional, Tuple, Union

from .barscan import numbers
from .logtext import count_lines, segment_lines
from .metricsyntax import _STEP_KEY_SET, STEP_KEYS, LineParser
from .parsed import BarRun, ParsedPoints, run_points
from .points import MetricPoint

_Out = Union[ParsedPoints, List[MetricPoint]]
_FIRST = re.compile(rb"(?:\A|[\r\n])(\{[^\r\n]*\})(?=[\r\n]|\Z)")
_KEY = re.compile(r"[A-Za-z_][\w./-]*\Z")
_LOOK = 1 << 16
# A JSON number but a bare -0, and NaN / Infinity / -Infinity; at most _NUM_LEN bytes, so a
# line the pattern takes is never one the splitter would cut (its max_line).
_NUM = rb"((?!-0[,}])-?(?:0|[1-9]\d{0,299})(?:\.\d{1,400})?(?:[eE][-+]?\d{1,5})?|NaN|-?Infinity)"
_NUM_LEN = 1 + 300 + 401 + 7
# A step as JSON writes an integer (no leading zero: `007` is no JSON, the reference reads
# no object there) of at most 15 digits, which as_step keeps as it is.
_STEP = rb"(0|[1-9]\d{0,14})"
_PATTERNS: "Dict[Tuple[str, ...], re.Pattern[bytes]]" = {}


def _shape(data: bytes) -> "Optional[Tuple[Tuple[str, ...], int]]":
    """The keys of the chunk's first JSON-line object and where its step key is, when its
    values are all numbers, its keys plain names and its step a number; else None."""
    first = _FIRST.search(data, 0, _LOOK)
    if first is None:
        return None
    try:
        obj = json.loads(first.group(1))
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or not obj:
        return None
    keys = tuple(obj)
    if first.group(1).count(b'": ') != len(keys):
        return None  # a key twice (json keeps the last), or a string holding `": `
    if not all(_KEY.match(k) for k in keys):
        return None
    if not all(type(v) in (int, float) for v in obj.values()):
        return None
    step = next((k for k in STEP_KEYS if k in obj), None)
    if step is None:
        return None  # points at the last step seen: the reference's
    return keys, keys.index(step)


def _pattern(keys: Tuple[str, ...], step: int) -> "re.Pattern[bytes]":
    pat = _PATTERNS.get(keys + (str(step),))  # noqa: RUF005 (py3.8)
    if pat is None:
        if len(_PATTERNS) > 32:
            _PATTERNS.clear()
        fields = b", ".join(
            b'"' + re.escape(k.encode()) + b'": ' + (_STEP if i == step else _NUM)
            for i, k in enumerate(keys)
        )
        pat = _PATTERNS[keys + (str(step),)] = re.compile(  # noqa: RUF005
            rb"(?:\r\n?|\n)\{" + fields + rb"\}(?=[\r\n]|\Z)"
        )
    return pat


def parse_json_bytes(
    parser: LineParser, data: bytes, out: "_Out", max_line: Optional[int], errors: str
) -> bool:
    """Parse ``data`` (whole lines) into ``out`` as the line-by-line parser would parse its
    lines (decoded with ``errors``, cut at ``max_line``), or return False having done
    nothing: no object of a shape the pattern takes, or too few such lines to pay."""
    shape = _shape(data)
    if shape is None:
        return False
    keys, step_at = shape
    longest = 2 + sum(len(k.encode()) + 6 + _NUM_LEN for k in keys)
    if max_line is not None and longest > max_line:
        return False  # so many keys that a line could be cut: the reference's lines
    head = data[: 1 << 18]
    if (head.count(b"\n{") + head.startswith(b"{")) * 2 < count_lines(head):
        return False  # mostly other lines: the split would not pay
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            parts = _pattern(keys, step_at).split(b"\n" + data)
        except MemoryError:
            return False
        stride = len(keys) + 1
        segs = parts[0::stride]
        if len(segs) == 1:
            return False
        last = segs[-1]  # the chunk's last terminator ends its last line and opens none
        segs[-1] = last[: -2 if last.endswith(b"\r\n") else -1]
        steps = list(map(int, parts[1 + step_at :: stride]))  # a step a line: no repeats
        names = [k for k in keys if k not in _STEP_KEY_SET]
        columns = [
            numbers(parts[1 + i :: stride], float)
            for i, k in enumerate(keys)
            if k not in _STEP_KEY_SET
        ]
        del parts
        others = other_points(parser, segs, steps, max_line, errors)
        if isinstance(out, ParsedPoints):
            out.run(tuple(names), steps, columns, others)
        else:
            out.extend(run_points(BarRun(tuple(names), steps, columns, others)))
    finally:
        if collecting:
            gc.enable()
    return True


def other_points(
    parser: LineParser,
    segs: List[bytes],
    steps: List[int],
    max_line: Optional[int],
    errors: str,
) -> List[Tuple[int, List[MetricPoint]]]:
    """The other lines' points, each list with the matched line it comes before (``segs[i]``
    is the text before match ``i``); ``last_step`` as the reference leaves it (each matched
    line set it to its step, an other line may set it again)."""
    one = parser._parse_one
    entries: List[Tuple[int, List[MetricPoint]]] = []
    before = 0
    for i in compress(range(len(segs)), segs):
        if i > before:
            parser.last_step, before = steps[i - 1], i
        points: List[MetricPoint] = []
        for line in segment_lines(segs[i], max_line, errors):
            one(line, points)
        if points:
            entries.append((i, points))
    if len(steps) > before:
        parser.last_step = steps[-1]
    return entries
