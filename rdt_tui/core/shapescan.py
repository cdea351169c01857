"""The lines of a named format of one shape (LIBERO's epoch lines, GestureLSM's RVQ-VAE and
generative lines) cut from a read's *bytes* in one C call, as ``core/barscan.py`` cuts bars.

Each format's whole-line pattern is the one ``core/fastscan.py`` reads ``str`` lines with
(``core/shapes.py``), made to start at the line end before its line and to end at the
next: ``re.split`` then hands back the lines of the shape as columns and the text of every
other line between them, decoded and read by the line-by-line parser (the reference). Over
bytes ``\\d`` and ``\\s`` are ASCII only: a line that holds other digits or spaces is not taken
and goes to the reference, which reads it as it always did.
"""

import gc
import re
from operator import add, mul
from typing import Dict, List, Optional, Tuple, Union

from .barscan import numbers
from .jsonscan import other_points
from .logtext import count_lines
from .metricsyntax import LineParser
from .parsed import BarRun, ParsedPoints, run_points
from .points import MetricPoint
from .shapes import _NEEDLES, shape_of

_Out = Union[ParsedPoints, List[MetricPoint]]
_ANY_LINE = "|[^\\n]*)\\n"
_BYTES: "Dict[str, re.Pattern[bytes]]" = {}


def _split_pattern(pattern: "re.Pattern[str]") -> "re.Pattern[bytes]":
    """``(?:SHAPE|[^\\n]*)\\n`` (a line of the shape, or any other line) as a pattern that
    matches only SHAPE, from the line end before it to the next."""
    found = _BYTES.get(pattern.pattern)
    if found is None:
        src = pattern.pattern
        if not (src.startswith("(?:") and src.endswith(_ANY_LINE)):
            raise ValueError(f"not a whole-line shape: {src!r}")
        body = src[3 : -len(_ANY_LINE)]
        # A lazy lead (LIBERO's) must not pass an earlier match that str's \d or \s takes.
        body = body.replace("[^\\n]*?", "[^\\n\\x80-\\xff]*?")
        body = body.replace("[^\\S\\n]", "[^\\S\\r\\n]").replace("[^\\n", "[^\\r\\n")
        if len(_BYTES) > 32:
            _BYTES.clear()
        found = _BYTES[src] = re.compile(
            rb"(?:\r\n?|\n)" + body.encode("utf-8") + rb"(?=[\r\n]|\Z)"
        )
    return found


def parse_shaped_bytes(
    parser: LineParser, data: bytes, out: "_Out", max_line: Optional[int], errors: str
) -> bool:
    """Parse ``data`` (whole lines) into ``out`` as the line-by-line parser would parse its
    lines, or return False having done nothing: colour codes, too few lines of the shape, a
    line the splitter would cut, an absurd step, a field in some lines only."""
    if b"\x1b" in data:
        return False
    head = data[: 1 << 18]
    if head.count(_NEEDLES[parser.fmt].encode()) * 2 < count_lines(head):
        return False
    if (
        max_line is not None
        and len(data) > max_line
        and max(map(len, data.splitlines())) > max_line
    ):
        return False  # a line the splitter cuts: its lines, as the reference sees them
    gen = parser.fmt == "gesturelsm"
    shape = shape_of(parser.fmt, head.decode("utf-8", errors))
    if shape is None:
        return False
    pattern, fields = shape
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            parts = _split_pattern(pattern).split(b"\n" + data)
        except MemoryError:
            return False
        stride = pattern.groups + 1
        segs = parts[0::stride]
        if len(segs) == 1:
            return False
        last = segs[-1]  # the chunk's last terminator ends its last line and opens none
        segs[-1] = last[: -2 if last.endswith(b"\r\n") else -1]
        done = _columns(parts, stride, fields, gen)
        if done is None:
            return False
        steps, names, columns = done
        del parts
        others = other_points(parser, segs, steps, max_line, errors)
        if isinstance(out, ParsedPoints):
            out.run(names, steps, columns, others)
        else:
            out.extend(run_points(BarRun(names, steps, columns, others)))
    finally:
        if collecting:
            gc.enable()
    return True


def _columns(
    parts: List[Optional[bytes]], stride: int, fields: Tuple[Tuple[str, int], ...], gen: bool
) -> Optional[Tuple[List[int], Tuple[str, ...], List[List[float]]]]:
    """The steps, names and value columns of the lines of the shape, as their matcher gives
    them; None when a step is one ``as_step`` must judge or a field is in some lines only."""
    firsts: List[bytes] = parts[1::stride]  # type: ignore[assignment]
    if max(map(len, firsts)) > 15:
        return None  # a step as_step must judge
    steps = numbers(firsts, int)
    epochs: List[int] = []
    if gen:  # the step is epoch * len + it: iterations since the start
        its: List[bytes] = parts[2::stride]  # type: ignore[assignment]
        lens: List[bytes] = parts[3::stride]  # type: ignore[assignment]
        widest = max(map(len, firsts))
        if max(map(len, lens)) > 15 - widest or max(map(len, its)) > 15:
            return None  # a step beyond 2 * 10**15
        epochs = steps
        steps = list(map(add, map(mul, epochs, numbers(lens, int)), numbers(its, int)))
        fields = (*fields, ("epoch", -1))
    names: List[str] = []
    columns: List[List[float]] = []
    for name, group in fields:
        if group < 0:  # the epoch, as the matcher gives it: float(str(int(epoch)))
            names.append(name)
            columns.append(numbers(epochs, float))
            continue
        col = parts[1 + group :: stride]  # a field names its findall index: group - 1
        if None in col:  # an optional field
            if col.count(None) != len(col):
                return None  # in some lines only: line by line
            continue
        names.append(name)
        columns.append(numbers(col, float))
    return steps, tuple(names), columns
