"""The fast path for tqdm bars: a whole chunk of log *bytes* cut at its plain bars in one C call.

A multi-GB training log is mostly one tqdm bar repainted on ``\\r``, ``Steps:  12%|#2 | 24/200
[00:48<05:52, 2.0s/it, loss=0.0152, lr=0.0001]``. Here ``re.split`` with one compiled pattern
cuts the chunk at every *plain bar* line (groups: n, then the postfix values) and hands back,
between them, the text of the other lines, in order: ``[other, n, v1, v2, other, n, v1, ...]``.
The pattern starts with ``\\n``, so the engine skips from line end to line end at C speed,
and the list's slices (``parts[1::stride]``) are the columns. Only the other lines are decoded
(a chunk's all at once) and parsed, one by one, by the line-by-line parser, which stays the
reference (``fast=False``).

A plain bar is a line whose line-by-line parse is known in advance: its points are exactly
the bar's postfix and nothing else in it counts. So the pattern admits only lines where

- the text before ``n/total`` holds no ``/`` (the first ``/`` is the bar's, so the bar the
  line-by-line parser finds first is this one), ``n`` has at most 15 ASCII digits and no digit
  or non-ASCII byte before it (``٣12/`` is step 312 to the reference), ``total`` at least one
  (``5/ [`` is no bar);
- no character that could start a project format's needle (``'`` of ``_sample_mse'``, ``I``
  of ``Iter``, ``[``/``]`` of ``][`` and ``[info]``, ``>`` of ``Validation Results >>>>``),
  no colour code (``\\x1b``) and no ``=`` appear before the postfix;
- the postfix is ``, key=value`` for exactly the keys of the chunk's first bar with a postfix,
  the line ends at the closing ``]`` or in spaces after it (tqdm pads a repaint shorter than
  the one before), and the whole line is at most ``max_line`` bytes (a longer one is cut by the
  splitter, and the reference sees it cut).

The values are then checked by column: only digits, ``.``, ``e``, ``E``, ``+``, ``-`` and
accepted by ``float`` (the parser's number language). A run that fails goes line by line.
tests/test_fastscan_differential.py holds all this to the reference, chunk cut anywhere.

For the agent (``ParsedPoints``), a chunk whose other lines cannot be bars becomes one
``BarRun``: its bars as columns and the other lines' points with the bar they come before, so
the store appends the chunk in a few C loops (``agent/metricblock.py``), not per run of bars.
"""

import gc
import re
from itertools import accumulate, compress, repeat
from operator import add, eq, not_
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, TypeVar, Union

from .logtext import _CR_TO_LF, count_lines, cut_lines, normalize, segment_lines
from .metricsyntax import _ANSI, _POSTFIX, LineParser
from .parsed import BarBlock, BarRun, ParsedPoints, block_points, run_points
from .points import MetricPoint

_Out = Union[ParsedPoints, List[MetricPoint]]
# A bar anywhere in the chunk's first bytes, to learn the postfix keys its bars carry.
_ANY_BAR = re.compile(rb"\d/\d+ \[([^\]\n]*)\]")
_KEYS_LOOK = 1 << 16
_SPARSE_LOOK = 1 << 18
# What a line needs to be read as a tqdm bar by the line-by-line parser (its _TQDM).
_MAYBE_BAR = re.compile(r"\d/\d+ \[")
_NUMBER_CHARS = b".eE+-"
_WORDS = frozenset([b"nan", b"NaN", b"NAN", b"inf", b"Inf", b"INF"])
_PATTERNS: "Dict[Tuple[Tuple[str, ...], Optional[int]], re.Pattern[bytes]]" = {}
_N = TypeVar("_N", int, float)


def _pattern(keys: Tuple[str, ...], max_line: Optional[int]) -> "Optional[re.Pattern[bytes]]":
    """The splitting pattern of a chunk whose bars carry ``keys``. Its five free stretches
    are bounded so that no line longer than ``max_line`` bytes is taken as a plain bar; None
    when even the fixed part of such a bar (20 bytes and the keys) is longer: each is cut."""
    pat = _PATTERNS.get((keys, max_line))
    if pat is not None:
        return pat
    if len(_PATTERNS) > 32:
        _PATTERNS.clear()  # a job that changes its keys every chunk: stay bounded
    literal = [b", " + re.escape(k.encode("utf-8")) + b"=" for k in keys]
    if max_line is None:
        each = vals = b"*"
    else:
        room = max_line - 20 - sum(map(len, literal))
        if room < 0:
            return None
        free = room // 5
        each, vals = b"{0,%d}" % free, b"{0,%d}" % (free // len(keys))
    postfix = b"".join(lit + rb"([^\r\n\],]" + vals + b")" for lit in literal)
    pat = _PATTERNS[(keys, max_line)] = re.compile(
        rb"(?:\r\n?|\n)[^\r\n/\x1b\[\]'>I=]" + each + rb"(?<![\d\x80-\xff])(\d{1,15})/\d\d" + each
        + rb" \[[^\r\n\[\]=\x1b'>I]" + each + postfix + rb"\] " + each + rb"(?=[\r\n]|\Z)"
    )  # fmt: skip
    return pat


def _postfix_keys(data: bytes) -> Optional[Tuple[str, ...]]:
    """The postfix keys of the first bars of ``data`` that have one (a bar without a postfix,
    an epoch bar around the step bar, gives no keys), or None."""
    for i, bar in enumerate(_ANY_BAR.finditer(data, 0, _KEYS_LOOK)):
        keys = tuple(k for k, _ in _POSTFIX.findall(bar.group(1).decode("utf-8", "replace")))
        if keys:
            return keys
        if i >= 16:
            break
    return None


def parse_bytes(
    parser: LineParser, data: bytes, out: "_Out", max_line: Optional[int], errors: str
) -> bool:
    """Parse ``data`` (whole lines, each ended by ``\\n``) into ``out`` as the line-by-line
    parser would parse its lines (decoded with ``errors``, cut at ``max_line``), or return
    False having done nothing: no bar with a postfix, or too few plain bars to pay."""
    keys = _postfix_keys(data)
    if keys is None:
        return False
    head = data[:_SPARSE_LOOK]  # counting over the whole chunk would cost 5 % of the parse
    bars = head.count(b", " + keys[0].encode("utf-8") + b"=") * 2
    # (more line ends than lines only where a \r\n ends one: counted only when it matters)
    if bars < head.count(b"\n") + head.count(b"\r") and bars < count_lines(head):
        return False  # NCCL chatter with a bar every few lines: the regex would not pay
    collecting = gc.isenabled()
    gc.disable()  # millions of short-lived objects and no cycles: the collector only costs
    try:
        pattern = _pattern(keys, max_line)
        if pattern is None:
            return False  # no bar with these keys fits in a line: every one is cut
        try:
            parts = pattern.split(b"\n" + data)
        except MemoryError:
            return False  # nothing done yet: line by line, each line gives what it can
        stride = len(keys) + 2
        segs = parts[0::stride]
        if len(segs) == 1:
            return False  # no plain bar after all
        # The chunk's last terminator ends its last line and opens none.
        last = segs[-1]
        segs[-1] = last[: -2 if last.endswith(b"\r\n") else -1]
        steps = parts[1::stride]
        cols = [parts[2 + j :: stride] for j in range(len(keys))]
        del parts
        _Chunk(parser, keys, segs, max_line, errors).all_at_once(steps, cols, out)
    finally:
        if collecting:
            gc.enable()
    return True


class _Chunk:
    """One chunk cut at its plain bars: ``segs[i]`` is the text before bar ``i`` (the last,
    the text after the last bar), each line of it after a ``\\n``."""

    def __init__(
        self,
        parser: LineParser,
        keys: Tuple[str, ...],
        segs: List[bytes],
        max_line: Optional[int],
        errors: str,
    ) -> None:
        self.parser, self.keys, self.segs = parser, keys, segs
        self.max_line, self.errors = max_line, errors
        # Where the other lines are: the bars they come before (the last: after every bar).
        self.gaps = list(compress(range(len(segs)), segs))

    def other_lines(self, i: int) -> List[str]:
        return segment_lines(self.segs[i], self.max_line, self.errors)

    def gap_lines(self) -> Tuple[str, List[str], List[int]]:
        """The other lines of every gap, decoded in one go, what ``other_lines`` gives gap by
        gap (each segment starts with its first line's terminator, and an invalid byte
        sequence ends where a terminator starts), how many lines each gap holds, and the text
        they were cut from."""
        segs = list(compress(self.segs, self.segs))
        joined = b"".join(segs)
        counts: Optional[List[int]] = None
        if b"\r" in joined:
            if b"\r\n" in joined:  # maybe one made by the join (`\r` + a `\n` after a bar)
                segs = list(map(normalize, segs))
                joined = b"".join(segs)
            else:  # every \r ends a line, then a \n as it does in each segment
                counts = list(map(add, _counts(segs, b"\n"), _counts(segs, b"\r")))
                joined = joined.translate(_CR_TO_LF)
        if counts is None:
            counts = list(_counts(segs, b"\n"))
        text = joined[1:].decode("utf-8", self.errors)
        lines = text.split("\n")
        if self.max_line is not None and len(text) > self.max_line:
            lines = cut_lines(lines, self.max_line)
        return text, lines, counts

    def all_at_once(self, steps: List[bytes], cols: List[List[bytes]], out: "_Out") -> None:
        """Every bar of the chunk in one set of columns. The other lines read ``last_step``
        (set before each to the step of the bar before them); one that is a bar itself moves
        ``_last_bar``, so the bar after it is judged a repaint against it, not the bar before."""
        parser, keys = self.parser, self.keys
        conv = _convert(steps, cols)
        if conv is None:
            return self.run_by_run(steps, cols, out)  # a value the reference must judge
        steps_i, floats = conv
        dup = _dups(keys, steps_i, cols, parser._last_bar)
        text, lines, counts = self.gap_lines()
        bar_like = self._bar_like(text)
        one, before, at = parser._parse_one, 0, 0
        entries: List[Tuple[int, List[MetricPoint]]] = []
        moved = False  # _last_bar last set by an other line, not by the bar before it
        for i, n in zip(self.gaps, counts):
            if i > before:  # new bars since the other lines before: the state of the last
                parser.last_step, before, moved = steps_i[i - 1], i, False
                if i in bar_like:
                    parser._last_bar = _key(keys, steps_i, cols, i - 1)
            points: List[MetricPoint] = []
            if n == 1:
                one(lines[at], points)
            else:
                for line in lines[at : at + n]:
                    one(line, points)
            at += n
            if i in bar_like:
                moved = True
                if i < len(steps_i):
                    dup[i] = _key(keys, steps_i, cols, i) == parser._last_bar
            if points:
                entries.append((i, points))
        if len(steps_i) > before:
            parser.last_step = steps_i[-1]
            parser._last_bar = _key(keys, steps_i, cols, len(steps_i) - 1)
        elif not moved and steps_i:
            parser._last_bar = _key(keys, steps_i, cols, len(steps_i) - 1)
        kept_steps, kept, columns = _keep(dup, steps_i, floats)
        others = entries if kept is None else [(kept[i], pts) for i, pts in entries]
        if isinstance(out, ParsedPoints):
            out.run(keys, kept_steps, columns, others)
        else:
            out.extend(run_points(BarRun(keys, kept_steps, columns, others)))

    def _bar_like(self, others: str) -> Set[int]:
        """The other lines' places where one of them may be a bar to the reference (after
        its colour codes are removed): an epoch bar, an evaluation bar. ``others``: their
        text (``gap_lines``)."""
        if "/" not in others:
            return set()  # one memchr: most chunks' other lines hold no bar
        if "\x1b" in others:
            others = _ANSI.sub("", others)  # `5\x1b[0m/9 [` is a bar once its colours are gone
        if not _MAYBE_BAR.search(others):
            return set()
        found = set()
        for i in self.gaps:
            text = self.segs[i].decode("utf-8", self.errors)
            if "\x1b" in text:
                text = _ANSI.sub("", text)
            if _MAYBE_BAR.search(text):
                found.add(i)
        return found

    def run_by_run(self, steps: List[bytes], cols: List[List[bytes]], out: "_Out") -> None:
        """Each run of bars between other lines on its own, in order (one of the other lines
        may be a bar, which moves ``_last_bar``)."""
        parser, keys, i, bars = self.parser, self.keys, 0, len(steps)
        ends = self.gaps if self.gaps and self.gaps[-1] == bars else [*self.gaps, bars]
        for j in ends:
            if j > i:
                done = _columns(keys, steps[i:j], [c[i:j] for c in cols], parser._last_bar)
                if done is None:  # the values did not pass: the reference parses the bars
                    for line in self._bar_lines(steps, cols, i, j):
                        parser._parse_one(line, out)
                else:
                    _block(out, keys, done[0], done[4])
                    parser.last_step, parser._last_bar = done[1][-1], done[3]
            if self.segs[j]:
                self._others(j, out)
            i = j

    def _others(self, i: int, out: "_Out") -> None:
        one = self.parser._parse_one
        for line in self.other_lines(i):
            one(line, out)

    def _bar_lines(self, steps: List[bytes], cols: List[List[bytes]], i: int, j: int) -> List[str]:
        """Bars ``i:j`` as lines the reference can parse: the same step, keys and values (the
        rest of a plain bar gives nothing, by its definition)."""
        errors, keys = self.errors, self.keys
        return [
            f"{steps[b].decode()}/0 [, "
            + ", ".join(f"{k}={c[b].decode('utf-8', errors)}" for k, c in zip(keys, cols))
            + "]"
            for b in range(i, j)
        ]


def _counts(segs: List[bytes], end: bytes) -> "map[int]":
    """How many times ``end`` is in each segment (a C loop)."""
    return map(bytes.count, segs, repeat(end))


def _block(
    out: "_Out", keys: Tuple[str, ...], steps: List[int], columns: List[List[float]]
) -> None:
    """Bars into ``out``: kept as columns, or as points where ``out`` is a plain list."""
    if isinstance(out, ParsedPoints):
        out.block(keys, steps, columns)
    else:
        out.extend(block_points(BarBlock(keys, steps, columns)))


_Bar = Tuple[int, List[Tuple[str, str]]]  # MetricParser._last_bar
# (the steps of the bars kept, the step of every bar, how many bars before each index were
# kept or None when all were, the last bar as ``_last_bar``, the kept bars' value columns)
_Columns = Tuple[List[int], List[int], Optional[List[int]], Optional[_Bar], List[List[float]]]


def _columns(
    keys: Tuple[str, ...], steps_b: List[bytes], values: List[List[bytes]], last_bar: object
) -> Optional[_Columns]:
    """The bars of consecutive plain bar lines with the line-by-line parser's rules: the step
    from n, a repaint of the bar before (same step, same values; ``last_bar`` before the
    first) skipped. None when a value is not a number (the reference then parses the lines)."""
    conv = _convert(steps_b, values)
    if conv is None:
        return None
    steps, floats = conv
    kept_steps, kept, floats = _keep(_dups(keys, steps, values, last_bar), steps, floats)
    return kept_steps, steps, kept, _key(keys, steps, values, len(steps) - 1), floats


def _convert(
    steps_b: List[bytes], values: List[List[bytes]]
) -> Optional[Tuple[List[int], List[List[float]]]]:
    """The steps and the value columns as numbers; None when a value is not a number in
    the parser's language (nan, inf, a word: the reference knows what to do)."""
    try:
        for col in values:
            if not b"".join(col).translate(None, _NUMBER_CHARS).isdigit() and not all(
                map(_a_number, set(col))
            ):
                return None
        floats = [numbers(col, float) for col in values]
    except ValueError:
        return None  # `1e`, `1.2.3`, an empty value
    return list(map(int, steps_b)), floats


def _a_number(value: bytes) -> bool:
    """Whether ``value`` may be a number in the parser's language: digits and ``.eE+-``
    (``float`` then judges the form) or a signed nan or inf as the parser spells them."""
    return value.translate(None, _NUMBER_CHARS).isdigit() or value.lstrip(b"+-") in _WORDS


def _key(keys: Tuple[str, ...], steps: List[int], values: List[List[bytes]], i: int) -> _Bar:
    """Bar ``i`` as the parser's ``_last_bar``: its step and its (key, value text) pairs."""
    return (steps[i], [(k, col[i].decode()) for k, col in zip(keys, values)])


def _dups(
    keys: Tuple[str, ...], steps: List[int], values: List[List[bytes]], last_bar: object
) -> List[bool]:
    """Which bars repaint the bar before them (the first: ``last_bar``): the same step as a
    number (024 is 24) and the same value texts."""
    dup = [_key(keys, steps, values, 0) == last_bar]
    if len(steps) > 1:
        same_step = list(map(eq, steps[1:], steps[:-1]))
        if True in same_step:  # only then can a bar repaint the one before
            row_keys = list(zip(steps, *values))
            dup.extend(map(eq, row_keys[1:], row_keys[:-1]))
        else:
            dup.extend(same_step)
    return dup


def _keep(
    dup: List[bool], steps: List[int], floats: List[List[float]]
) -> Tuple[List[int], Optional[List[int]], List[List[float]]]:
    """The bars that are not repaints: their steps, how many were kept before each index
    (None: all were) and their value columns."""
    if True not in dup:
        return steps, None, floats
    keep = list(map(not_, dup))
    kept = [0]
    kept.extend(accumulate(keep))
    return list(compress(steps, keep)), kept, [list(compress(col, keep)) for col in floats]


def numbers(col: "List[Any]", make: "Callable[[Any], _N]") -> "List[_N]":
    """``make`` (``int`` or ``float``) of every value; a column of few distinct values (a
    learning rate printed the same for thousands of steps, an epoch) converts each distinct
    value once. Its first values say which (a loss column of all-new values would pay the
    dict for nothing)."""
    if len(col) >= 256 and len(set(col[:256])) <= 64:
        distinct: Dict[Any, Any] = dict.fromkeys(col)
        if len(distinct) * 4 <= len(col):
            for v in distinct:
                distinct[v] = make(v)
            return list(map(distinct.__getitem__, col))
    return list(map(make, col))
