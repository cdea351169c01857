"""The fast path of :meth:`MetricParser.parse_lines`: tqdm bars found in a whole chunk at once.

A multi-GB training log is mostly one tqdm bar repainted on ``\\r``, ``Steps: 12%|#2 | 24/200
[00:48<05:52, 2.0s/it, loss=0.0152, lr=0.0001]``, and parsing it line by line in Python costs
about 2 us a line. Here one compiled regex classifies every line of the chunk in C
(``findall``): a line is either a *plain bar* with the postfix keys of the chunk's first bar,
its step and values captured, or anything else (all groups empty). Plain bars become points
through ``map``/``zip`` (C loops, no Python code per line); every other line goes, in order,
through the line-by-line parser, which stays the reference (``fast=False``).

A plain bar is a line whose line-by-line parse is known in advance: its points are exactly
the bar's postfix and nothing else in it counts. So the regex admits only lines where

- the text before ``n/total`` holds no ``/`` (the first ``/`` is the bar's, so the bar the
  line-by-line parser finds first is this one) and ``n`` has at most 15 digits;
- no character that could start a project format's needle (``'`` of ``_sample_mse'``, ``I``
  of ``Iter``, ``[``/``]`` of ``][`` and ``[info]``, ``>`` of ``Validation Results >>>>``),
  no colour code (``\\x1b``) and no ``=`` appear before the postfix;
- the postfix is ``, key=value`` for exactly the keys of the pattern, and the line ends at
  the closing ``]`` or in spaces after it (tqdm pads a repaint that is shorter than the one
  before; spaces after a bar give the reference nothing), and it is not a JSON line.

The values captured are then checked by column: only digits, ``.``, ``e``, ``E``, ``+``,
``-`` and accepted by ``float`` (the same language as the parser's number pattern). A run
that fails any check goes through the line-by-line parser instead: the fast path can only be
as right as the reference, and tests/test_fastscan_differential.py holds it to that.

The named formats get the same treatment (``parse_shaped``: LIBERO's epoch lines, GestureLSM's
RVQ-VAE and generative lines, each its matcher made a whole-line regex; ``parse_json_lines``:
Diffusion Policy's JSON lines through json's C scanner). Which path a parser takes is fixed by
its format (``fast_path``); a chunk of fewer than ``MIN_LINES`` lines, or one a fast
path declines, is parsed line by line. Where it goes is C loops; what is left in Python is
per chunk, per line that is not of the format's shape, and per point (making it).
"""

import gc
import re
from itertools import accumulate, compress
from operator import add, eq, itemgetter, mul, not_
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from .formats import _NUM, _PAIR, metric_format
from .jsoncols import parse_json_lines
from .metricsyntax import _ANSI, _POSTFIX, LineParser
from .parsed import BarBlock, ParsedPoints, block_points
from .points import MetricPoint

# Where points go: the agent's ParsedPoints (bars kept as columns), or a list (tests, tools).
_Out = Union[ParsedPoints, List[MetricPoint]]
# Fewer lines than this go line by line: the join and the scan would cost more than they save.
MIN_LINES = 64
# A bar anywhere in the chunk, to learn the postfix keys the chunk's bars carry.
_ANY_BAR = re.compile(r"\d/\d+ \[([^\]\n]*)\]")
# What a line needs to be read as a tqdm bar by the line-by-line parser (its _TQDM).
_MAYBE_BAR = re.compile(r"\d/\d+ \[")
_PATTERNS: "Dict[Tuple[str, ...], re.Pattern[str]]" = {}
_NUMBER_CHARS = b".eE+-"


def _pattern(keys: Tuple[str, ...]) -> "re.Pattern[str]":
    """One regex for every line of a chunk: a plain bar with ``keys`` (groups: n, then the
    values) or any other line (every group empty)."""
    pat = _PATTERNS.get(keys)
    if pat is None:
        postfix = "".join(", " + re.escape(k) + r"=([^\n\],]*)" for k in keys)
        pat = _remember(
            keys,
            r"(?:[^\n/\x1b\[\]'>I=]*(?<!\d)(\d{1,15})/\d+ \[[^\n\[\]=\x1b'>I]*"
            + postfix
            + r"\] *|[^\n]*)\n",  # tqdm pads a repaint shorter than the last with spaces
        )
    return pat


def _remember(key: Tuple[str, ...], pattern: str) -> "re.Pattern[str]":
    """``pattern`` compiled and kept under ``key``, the cache bounded (a job that changes its
    keys every chunk)."""
    if len(_PATTERNS) > 32:
        _PATTERNS.clear()
    pat = _PATTERNS[key] = re.compile(pattern)
    return pat


def _postfix_keys(text: str) -> Optional[Tuple[str, ...]]:
    """The postfix keys of the first bars of ``text`` that have one (a bar without a postfix,
    an epoch bar around the step bar, gives no keys), or None."""
    for i, bar in enumerate(_ANY_BAR.finditer(text)):
        keys = tuple(k for k, _ in _POSTFIX.findall(bar.group(1)))
        if keys:
            return keys
        if i >= 16:
            break
    return None


def parse_lines(parser: LineParser, lines: Sequence[str], out: "_Out") -> bool:
    """Parse ``lines`` into ``out`` as the line-by-line parser would, or return False having
    done nothing (no bar with a postfix in them: the caller parses them line by line)."""
    text = "\n".join(lines)
    keys = _postfix_keys(text)
    if keys is None or _sparse(text, ", " + keys[0] + "=", len(lines)):
        return False
    # Millions of small objects are made here and few survive long: the collector, run every
    # 700 allocations, would cost more than the parse (and there are no cycles to find).
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            found = _pattern(keys).findall(text + "\n")
        except MemoryError:
            return False  # nothing done yet: line by line, each line gives what it can
        if len(found) != len(lines):
            return False  # a "line" holding a \n: not from the splitter; the slow path copes
        _parse_found(parser, keys, lines, found, out)
    finally:
        if collecting:
            gc.enable()
    return True


def _parse_found(
    parser: LineParser,
    keys: Tuple[str, ...],
    lines: Sequence[str],
    found: List[Tuple[str, ...]],
    out: "_Out",
) -> None:
    steps_col = list(map(itemgetter(0), found))
    gaps = _gaps(steps_col)  # the lines that are not plain bars, in order
    end = len(found)
    # All the chunk's plain bars at once, when no other line can be a bar: then the lines
    # between them only read last_step (set here before each) and never touch _last_bar.
    others = "\n".join([lines[j] for j in gaps])
    if "\x1b" in others:
        others = _ANSI.sub("", others)  # `5\x1b[0m/9 [` is a bar once its colours are gone
    if not _MAYBE_BAR.search(others):
        rows = list(compress(found, steps_col))
        done = _columns(keys, rows, parser._last_bar) if rows else None
        if done is not None or not rows:
            _interleave(parser, lines, gaps, done, keys, out)
            return
    one = parser._parse_one
    i = 0
    for j in [*gaps, end]:
        if j > i:
            done = _columns(keys, found[i:j], parser._last_bar)
            if done is None:
                for line in lines[i:j]:  # the values did not pass: the reference parses them
                    one(line, out)
            else:
                _block(out, keys, done[0], done[4])
                parser.last_step, parser._last_bar = done[1][-1], done[3]
        if j < end:
            one(lines[j], out)
        i = j + 1


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


def _block(
    out: "_Out", keys: Tuple[str, ...], steps: List[int], columns: List[List[float]]
) -> None:
    """Bars into ``out``: kept as columns, or as points where ``out`` is a plain list."""
    if isinstance(out, ParsedPoints):
        out.block(keys, steps, columns)
    else:
        out.extend(block_points(BarBlock(keys, steps, columns)))


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


def _columns(
    keys: Tuple[str, ...], rows: List[Tuple[str, ...]], last_bar: object
) -> Optional[_Columns]:
    """The bars of consecutive plain bar lines with the line-by-line parser's rules: the step
    from n, a repaint of the bar before (same step, same values; ``last_bar`` before the
    first) skipped. None when a value is not a number (the reference then parses the lines)."""
    m = len(keys)
    values = [list(map(itemgetter(c), rows)) for c in range(1, m + 1)]
    try:
        for col in values:
            joined = "".join(col).encode("utf-8", "replace")
            if not joined.translate(None, _NUMBER_CHARS).isdigit():
                return None  # nan, inf, a word: the reference knows what to do
        floats = [list(map(float, col)) for col in values]
    except ValueError:
        return None  # `1e`, `1.2.3`, an empty value
    steps = list(map(int, map(itemgetter(0), rows)))
    dup = [(steps[0], [(k, col[0]) for k, col in zip(keys, values)]) == last_bar]
    if len(rows) > 1:
        same_step = list(map(eq, steps[1:], steps[:-1]))
        if True in same_step:  # only then can a bar repaint the one before
            row_keys = list(zip(steps, *values))  # the step as a number: 024 is 24
            dup.extend(map(eq, row_keys[1:], row_keys[:-1]))
        else:
            dup.extend(same_step)
    last = (steps[-1], [(k, col[-1]) for k, col in zip(keys, values)])
    kept = None
    kept_steps = steps
    if True in dup:
        keep = list(map(not_, dup))
        kept = [0]
        kept.extend(accumulate(keep))
        kept_steps = list(compress(steps, keep))
        floats = [list(compress(col, keep)) for col in floats]
    return kept_steps, steps, kept, last, floats


# Named formats whose metric line has one shape, read by one regex per chunk like the bars:
# (the pattern, (name, group) of each value); group 1 is the step. Each pattern is its
# matcher in core/formats.py made to take a whole line: ``\s`` that cannot pass a line end,
# the text before the match unable to hold an earlier one (the matcher searches).
_SHAPES = {
    "libero": (
        re.compile(
            r"(?:[^\n]*?\[info\] Epoch:[^\S\n]*(\d+) \| train loss:[^\S\n]*(" + _NUM + r")"
            r"(?: \| time:[^\S\n]*(" + _NUM + r"))?[^\n]*|[^\n]*)\n"
        ),
        (("train_loss", 1), ("epoch_minutes", 2)),
    ),
    "gesturelsm-rvq": (
        # The whole rest of the line is the fields: the matcher finds them anywhere in it.
        re.compile(
            r"(?:[^\n.]*(?:Warmup|Train)\. Iter (\d+) :[ \t]*(?:lr[ \t]+(" + _NUM + r")[ \t]+)?"
            r"Commit\.[ \t]+(" + _NUM + r")[ \t]+PPL\.[ \t]+(" + _NUM + r")[ \t]+"
            r"Recons\.[ \t]+(" + _NUM + r")[ \t]*|[^\n]*)\n"
        ),
        (("lr", 1), ("commit", 2), ("perplexity", 3), ("recons", 4)),
    ),
}
SHAPED = frozenset([*_SHAPES, "gesturelsm"])
_NEEDLES = {"libero": "[info] Epoch", "gesturelsm-rvq": "Iter ", "gesturelsm": "]["}
# GestureLSM's generative `[epoch][it/len]  name: value ...`: a pattern per list of names.
_GEN_ANY = re.compile(r"\[\d{3,}\]\[\d+/\d+\]\s+(.*)")


def _gen_shape(text: str) -> "Optional[Tuple[re.Pattern[str], Tuple[Tuple[str, int], ...]]]":
    """The pattern of the chunk's first ``[epoch][it/len]`` line's names: groups epoch, it,
    len, then the values; the text before it holds no ``[`` (the matcher's first match) and
    no ``>`` (a `Validation Results >>>>` line is read otherwise); the rest is the pairs."""
    found = _GEN_ANY.search(text)
    if found is None:
        return None
    keys = tuple(k for k, _ in _PAIR.findall(found.group(1)))
    if not keys:
        return None
    cache_key = ("[gen]",) + keys  # noqa: RUF005 (a star in a subscript is 3.11 syntax)
    pat = _PATTERNS.get(cache_key)
    if pat is None:
        pairs = r"[ \t]+".join(re.escape(k) + r":[ \t]+(" + _NUM + ")" for k in keys)
        pat = _remember(
            cache_key,
            r"(?:[^\n\[>\x1b]*\[(\d{3,})\]\[(\d+)/(\d+)\][ \t]+" + pairs + r"[ \t]*|[^\n]*)\n",
        )
    return pat, tuple((k, 3 + i) for i, k in enumerate(keys))


def parse_shaped(parser: LineParser, lines: Sequence[str], out: "_Out") -> bool:
    """``parse_lines`` for a format of ``SHAPED``; False, having done nothing, when the chunk
    holds colour codes, an absurd step, or lines of its shape with and without a field."""
    text = "\n".join(lines)
    if "\x1b" in text or _sparse(text, _NEEDLES[parser.fmt], len(lines)):
        return False
    gen = parser.fmt == "gesturelsm"
    shape = _gen_shape(text) if gen else _SHAPES[parser.fmt]
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
