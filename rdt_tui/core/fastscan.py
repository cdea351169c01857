"""The fast paths of :meth:`MetricParser.parse_lines`: a chunk's metric lines found at once.

Parsing a multi-GB log line by line in Python costs about 2 us a line. Each fast path reads a
whole chunk with compiled code and leaves to Python only what is per chunk, per line that is
not of the format's shape, and per point:

- tqdm bars (``parse_lines``, for every format that takes bars): ``core/barscan.py`` cuts the
  chunk's bytes at its plain bars with one ``re.split``;
- the named formats whose metric line has one shape (``parse_shaped``: LIBERO's epoch lines,
  GestureLSM's RVQ-VAE and generative lines), each its matcher made a whole-line regex read by
  ``findall``, every line classified in C (a line of the shape, or all groups empty);
- Diffusion Policy's JSON lines (``parse_json_lines`` in ``core/jsoncols.py``), through
  json's C scanner.

Which path a parser takes is fixed by its format (``fast_path``); a chunk of fewer than
``MIN_LINES`` lines, or one a fast path declines, is parsed line by line, by the reference
(``fast=False``) that tests/test_fastscan_differential.py holds every path to.
"""

import gc
import re
from itertools import compress
from operator import add, itemgetter, mul
from typing import Callable, List, Optional, Sequence, Tuple, Union

from .barscan import parse_bytes
from .formats import metric_format
from .jsoncols import parse_json_lines
from .metricsyntax import LineParser
from .parsed import BarBlock, ParsedPoints, block_points
from .points import MetricPoint
from .shapes import _NEEDLES, SHAPED, shape_of

# Where points go: the agent's ParsedPoints (bars kept as columns), or a list (tests, tools).
_Out = Union[ParsedPoints, List[MetricPoint]]
# Fewer lines than this go line by line: the join and the scan would cost more than they save.
MIN_LINES = 64
# What a line needs to be read as a tqdm bar by the line-by-line parser (its _TQDM).
_MAYBE_BAR = re.compile(r"\d/\d+ \[")


def parse_lines(parser: LineParser, lines: Sequence[str], out: "_Out") -> bool:
    """Parse ``lines`` into ``out`` as the line-by-line parser would, or return False having
    done nothing (no bar with a postfix in them: the caller parses them line by line). The
    bars are found by ``core/barscan.py`` in the lines' bytes (each line as it is: a line
    holding a ``\\n`` or ``\\r`` is not one the splitter gives: the chunk goes line by line)."""
    data = "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n"
    if data.count(b"\n") != len(lines) or b"\r" in data:
        return False  # a line holding a line end: not one the splitter gives
    return parse_bytes(parser, data, out, None, "surrogatepass")


def _sparse(text: str, needle: str, lines: int) -> bool:
    """Whether under half the lines can be of the fast path's shape (a C count of the needle
    its lines hold): then the regex over every line costs more than it saves, as in a log
    of NCCL chatter with a bar every few lines."""
    return text.count(needle) * 2 < lines


def _gaps(steps_col: List[str]) -> List[int]:
    """Where the empty strings are: the lines the pattern did not take (C-speed search)."""
    gaps: List[int] = []
    i = 0
    while True:
        try:
            i = steps_col.index("", i)
        except ValueError:
            return gaps
        gaps.append(i)
        i += 1


def _interleave(
    parser: LineParser,
    lines: Sequence[str],
    gaps: List[int],
    done: "Optional[_Columns]",
    keys: Tuple[str, ...],
    out: "_Out",
) -> None:
    """The bars of all plain bar lines (``done``) and the points of the other lines, in line
    order."""
    one = parser._parse_one
    if done is None:
        for j in gaps:
            one(lines[j], out)
        return
    kept_steps, steps, kept, last_bar, columns = done
    if isinstance(out, ParsedPoints):

        def bars_out(a: int, b: int) -> None:
            out.block(keys, kept_steps[a:b], [c[a:b] for c in columns])

    else:  # a list: every point made at once, then sliced (one map per key, not per run)
        points, m = block_points(BarBlock(keys, kept_steps, columns)), len(keys)

        def bars_out(a: int, b: int) -> None:
            out.extend(points[a * m : b * m])

    emitted = before = 0  # bars out, plain bars behind
    for ordinal, j in enumerate(gaps):
        bars = j - ordinal  # plain bars before line j
        if bars > before:
            upto = kept[bars] if kept is not None else bars
            if upto > emitted:
                bars_out(emitted, upto)
            emitted, before = upto, bars
            parser.last_step = steps[bars - 1]
        one(lines[j], out)
    if len(steps) > before:
        bars_out(emitted, len(kept_steps))
        parser.last_step = steps[-1]
    parser._last_bar = last_bar


_Bar = Tuple[int, List[Tuple[str, str]]]  # MetricParser._last_bar
# (the steps of the bars kept, the step of every bar, how many bars before each index were
# kept or None when all were, the last bar as ``_last_bar``, the kept bars' value columns)
_Columns = Tuple[List[int], List[int], Optional[List[int]], Optional[_Bar], List[List[float]]]


def parse_shaped(parser: LineParser, lines: Sequence[str], out: "_Out") -> bool:
    """``parse_lines`` for a format of ``SHAPED``; False, having done nothing, when the chunk
    holds colour codes, an absurd step, or lines of its shape with and without a field."""
    text = "\n".join(lines)
    if "\x1b" in text or _sparse(text, _NEEDLES[parser.fmt], len(lines)):
        return False
    gen = parser.fmt == "gesturelsm"
    shape = shape_of(parser.fmt, text)
    if shape is None:
        return False
    pattern, fields = shape
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            found = pattern.findall(text + "\n")
        except MemoryError:
            return False
        if len(found) != len(lines):
            return False
        steps_col = list(map(itemgetter(0), found))
        rows = list(compress(found, steps_col))
        if not rows or max(map(len, map(itemgetter(0), rows))) > 15:
            return False  # no line of its own, or a step as_step must judge
        steps = list(map(int, map(itemgetter(0), rows)))
        if gen:  # the step is epoch * len + it: iterations since the start
            its, lens = list(map(itemgetter(1), rows)), list(map(itemgetter(2), rows))
            widest = max(map(len, map(itemgetter(0), rows)))
            if max(map(len, lens)) > 15 - widest or max(map(len, its)) > 15:
                return False  # a step beyond 2 * 10**15: as_step must judge
            epochs = steps
            steps = list(map(add, map(mul, epochs, map(int, lens)), map(int, its)))
            fields = (*fields, ("epoch", -1))
        names, columns = [], []
        for name, group in fields:
            if group < 0:  # the epoch, as the matcher gives it: float(str(int(epoch)))
                names.append(name)
                columns.append(list(map(float, epochs)))
                continue
            col = list(map(itemgetter(group), rows))
            if "" in col:
                if any(col):
                    return False  # a field in some lines only: line by line
                continue
            names.append(name)
            columns.append(list(map(float, col)))
        done = (steps, steps, None, parser._last_bar, columns)
        _interleave(parser, lines, _gaps(steps_col), done, tuple(names), out)
    finally:
        if collecting:
            gc.enable()
    return True


_Path = Callable[[LineParser, List[str], _Out], bool]
# A fast path over a read's undecoded bytes (core/logtext.py): (parser, data, out, max_line,
# errors) -> bool, False having done nothing.
_BytesPath = Callable[[LineParser, bytes, _Out, Optional[int], str], bool]


def fast_path(fmt: str) -> Optional[_Path]:
    """The fast path of a format (``MetricParser`` fixes it once), from what the format
    declares it takes (``core/formats.py``): tqdm bars, JSON lines, the lines of a format of
    ``SHAPED``, or None (line by line only)."""
    takes = metric_format(fmt)
    if takes.tqdm:  # bars first: a chunk without one goes line by line, JSON lines and all
        return parse_lines
    if takes.json:
        return parse_json_lines
    if fmt in SHAPED:
        return parse_shaped
    return None


def fast_bytes_path(fmt: str) -> Optional[_BytesPath]:
    """The fast path of a format over a read's bytes, undecoded: tqdm bars
    (``core/barscan.py``), JSON lines (``core/jsonscan.py``), the lines of a format of
    ``SHAPED`` (``core/shapescan.py``), or None (its ``str`` lines)."""
    takes = metric_format(fmt)
    if takes.tqdm:
        return parse_bytes
    if takes.json:
        from .jsonscan import parse_json_bytes

        return parse_json_bytes
    if fmt in SHAPED:
        from .shapescan import parse_shaped_bytes

        return parse_shaped_bytes
    return None
