"""A chunk's parsed points in parse order, without an object per point where it can.

A multi-GB log is mostly one tqdm bar repainted: the fast path (``core/fastscan.py``) reads a
run of such bars as columns, the bar's keys, the step of each bar and a value column per key.
Building a ``MetricPoint`` per value only to take it apart again in the store cost more than
the parse itself; here such a run stays a ``BarBlock`` and the store appends it whole
(``agent/metricstore.py``). The points of every other line stay ``MetricPoint`` lists. Parts
keep their order, and a block's points are in line order (a bar's keys in postfix order), so
iterating gives exactly the list that ``MetricParser.parse_lines`` returns.
"""

from itertools import repeat
from typing import Iterator, List, NamedTuple, Optional, Set, Tuple, Union

from .points import MetricPoint


class BarBlock(NamedTuple):
    """Consecutive bars: ``values[j][i]`` is the value of ``keys[j]`` in bar ``i``, at step
    ``steps[i]`` (an int, never None: a bar's step is its ``n``)."""

    keys: Tuple[str, ...]
    steps: List[int]
    values: List[List[float]]


class BarRun(NamedTuple):
    """A chunk's bars as one ``BarBlock`` (``keys``, ``steps``, ``values``) and the points of
    the other lines between them: ``others[i] = (bar, points)``, points that come before bar
    number ``bar`` (``len(steps)``: after the last), in order."""

    keys: Tuple[str, ...]
    steps: List[int]
    values: List[List[float]]
    others: List[Tuple[int, List[MetricPoint]]]


Part = Union[List[MetricPoint], BarBlock, BarRun]


class ParsedPoints:
    """Points in parse order: lists of ``MetricPoint`` and ``BarBlock`` s. ``append`` and
    ``extend`` take points as a list does, so the line-by-line parser writes into it as is."""

    __slots__ = ("_tail", "parts")

    def __init__(self) -> None:
        self.parts: List[Part] = []
        self._tail: Optional[List[MetricPoint]] = None

    def append(self, point: MetricPoint) -> None:
        if self._tail is None:
            self._tail = []
            self.parts.append(self._tail)
        self._tail.append(point)

    def extend(self, points: List[MetricPoint]) -> None:
        if points:
            if self._tail is None:
                self._tail = []
                self.parts.append(self._tail)
            self._tail.extend(points)

    def block(self, keys: Tuple[str, ...], steps: List[int], values: List[List[float]]) -> None:
        if steps:
            self.parts.append(BarBlock(keys, steps, values))
            self._tail = None

    def run(
        self,
        keys: Tuple[str, ...],
        steps: List[int],
        values: List[List[float]],
        others: List[Tuple[int, List[MetricPoint]]],
    ) -> None:
        if steps or others:
            self.parts.append(BarRun(keys, steps, values, others))
            self._tail = None

    def add(self, other: "ParsedPoints") -> None:
        """Another chunk's points after these (one poll reads several files)."""
        self.parts.extend(other.parts)
        self._tail = None

    def __len__(self) -> int:
        return sum(map(_count, self.parts))

    def __bool__(self) -> bool:
        return bool(self.parts)

    def names(self) -> Set[str]:
        out: Set[str] = set()
        for p in self.parts:
            if isinstance(p, list):
                out.update(q[0] for q in p)
                continue
            if p.steps:
                out.update(p.keys)
            if isinstance(p, BarRun):
                for _, points in p.others:
                    out.update(q[0] for q in points)
        return out

    def __iter__(self) -> Iterator[MetricPoint]:
        return iter(self.to_list())

    def to_list(self) -> List[MetricPoint]:
        """Every point as a ``MetricPoint``, in order."""
        out: List[MetricPoint] = []
        for p in self.parts:
            if isinstance(p, BarBlock):
                out.extend(block_points(p))
            elif isinstance(p, BarRun):
                out.extend(run_points(p))
            else:
                out.extend(p)
        return out


def block_points(block: BarBlock) -> List[MetricPoint]:
    """A block's points, bar by bar (built by C loops: ``tuple.__new__`` through ``map``)."""
    keys, steps, values = block
    m = len(keys)
    make = tuple.__new__
    points: List[MetricPoint] = [None] * (len(steps) * m)  # type: ignore[list-item]
    for i, (k, col) in enumerate(zip(keys, values)):
        points[i::m] = map(make, repeat(MetricPoint), zip(repeat(k), col, steps))
    return points


def run_points(run: BarRun) -> List[MetricPoint]:
    """A run's points in line order: its bars, the other lines' points where they came."""
    keys, steps, values, others = run
    made, m, at = block_points(BarBlock(keys, steps, values)), len(keys), 0
    out: List[MetricPoint] = []
    for bar, points in others:
        out.extend(made[at * m : bar * m])
        out.extend(points)
        at = bar
    out.extend(made[at * m :])
    return out


def split_run(run: BarRun) -> List[Part]:
    """A run as the blocks and point lists it is made of, in order (what the store appends
    one by one when it cannot take the run whole)."""
    keys, steps, values, others = run
    parts: List[Part] = []
    at = 0
    for bar, points in others:
        if bar > at:
            parts.append(BarBlock(keys, steps[at:bar], [c[at:bar] for c in values]))
        parts.append(points)
        at = bar
    if len(steps) > at:
        parts.append(BarBlock(keys, steps[at:], [c[at:] for c in values]))
    return parts


def _count(part: Part) -> int:
    if isinstance(part, list):
        return len(part)
    n = len(part.steps) * len(part.keys)
    if isinstance(part, BarRun):
        n += sum(len(points) for _, points in part.others)
    return n
