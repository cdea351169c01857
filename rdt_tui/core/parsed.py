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


Part = Union[List[MetricPoint], BarBlock]


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

    def add(self, other: "ParsedPoints") -> None:
        """Another chunk's points after these (one poll reads several files)."""
        self.parts.extend(other.parts)
        self._tail = None

    def __len__(self) -> int:
        return sum(
            len(p.steps) * len(p.keys) if isinstance(p, BarBlock) else len(p) for p in self.parts
        )

    def __bool__(self) -> bool:
        return bool(self.parts)

    def names(self) -> Set[str]:
        out: Set[str] = set()
        for p in self.parts:
            out.update(p.keys if isinstance(p, BarBlock) else (q[0] for q in p))
        return out

    def __iter__(self) -> Iterator[MetricPoint]:
        return iter(self.to_list())

    def to_list(self) -> List[MetricPoint]:
        """Every point as a ``MetricPoint``, in order."""
        out: List[MetricPoint] = []
        for p in self.parts:
            if isinstance(p, BarBlock):
                out.extend(block_points(p))
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
