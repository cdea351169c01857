"""Per-block summaries of a long series, so a downsampled view never walks every point.

A run with 10 million points asked for its 500-point history used to slice, sum and take the
min and max of every point (``core.downsample``): seconds. Here each block of ``BLOCK`` points
keeps its minimum, maximum and sum (the sum is NaN when a NaN is in the block, the way
``downsample_minmax`` spots one), computed once, by C loops over the block. A view then takes
buckets of whole blocks: a bucket's extremes are the extremes of its blocks' extremes, and only
the blocks that hold a bucket's picks are read again to find where. So spikes and NaNs survive
exactly as in ``downsample_minmax``; only the bucket edges differ (they fall on block edges).

A block is summarized only once the series' last point lies after it: the store replaces a
series' last point in place (a tqdm repaint of the same step), never one before it.
"""

import math
import struct
from array import array
from typing import Any, Dict, List, Optional, Sequence

from ..core.downsample import downsample_minmax

BLOCK = 4096
# Below this many points a view reads the points themselves (the old, exact buckets).
LONG = 64 * BLOCK
TAIL_POINTS = 8  # of the points after the last summarized block


class Summary:
    __slots__ = ("maxs", "mins", "sums")

    def __init__(self) -> None:
        self.mins = array("d")
        self.maxs = array("d")
        self.sums = array("d")

    def reset(self) -> None:
        del self.mins[:], self.maxs[:], self.sums[:]

    def update(self, values: "array[float]") -> None:
        """Summarize the blocks that are complete and before the last point."""
        n = len(values)
        a = len(self.mins) * BLOCK
        while a + BLOCK < n:
            seg = values[a : a + BLOCK]
            self.mins.append(min(seg))
            self.maxs.append(max(seg))
            self.sums.append(sum(seg))
            a += BLOCK


_ENTRY = struct.Struct("<II")  # a series' index among the store's names, its blocks summarized


def dump(summaries: Sequence[Summary]) -> bytes:
    """Every series' summaries, for ``summary.bin`` (so a restarted daemon's first history
    does not read every point again)."""
    parts: List[bytes] = []
    for k, s in enumerate(summaries):
        if s.mins:
            parts += (_ENTRY.pack(k, len(s.mins)), s.mins.tobytes(), s.maxs.tobytes())
            parts.append(s.sums.tobytes())
    return b"".join(parts)


def load(data: bytes, lengths: Sequence[int]) -> Dict[int, Summary]:
    """The summaries in ``data`` of series that still hold more points than they cover (a
    file from before a crash may cover points the records lost: those are dropped)."""
    out: Dict[int, Summary] = {}
    pos = 0
    while pos + _ENTRY.size <= len(data):
        k, blocks = _ENTRY.unpack_from(data, pos)
        pos += _ENTRY.size
        cols = []
        for _ in range(3):
            col = array("d")
            col.frombytes(data[pos : pos + blocks * 8])
            cols.append(col)
            pos += blocks * 8
        if k < len(lengths) and blocks * BLOCK < lengths[k] and len(cols[2]) == blocks:
            s = out[k] = Summary()
            s.mins, s.maxs, s.sums = cols
    return out


def pick(values: "array[float]", summary: Summary, target: int) -> List[int]:
    """Indices of at most ``target`` points of ``values`` (first and last kept, ascending):
    each bucket's minimum and maximum, or its first NaN."""
    n = len(values)
    if n <= LONG or target < 4:
        return downsample_minmax(_indexable(values), target)
    summary.update(values)
    try:
        return _picks(values, summary, target)
    except ValueError:  # an extreme not in its block: a summary.bin that lost its points
        summary.reset()  # (written without fsync: torn by a power cut), built again
        summary.update(values)
        return _picks(values, summary, target)


def _picks(values: "array[float]", summary: Summary, target: int) -> List[int]:
    n = len(values)
    blocks = len(summary.mins)
    covered = blocks * BLOCK
    tail = min(TAIL_POINTS, target - 4)
    buckets = max(1, (target - 2 - tail) // 2)
    per = -(-blocks // buckets)  # blocks in a bucket, rounded up
    picked = [0]
    for a in range(0, blocks, per):
        b = min(a + per, blocks)
        if math.isnan(sum(summary.sums[a:b])):
            at = _first_nan(values, summary, a, b)
            if at is not None:
                picked.append(at)
                continue  # (+inf and -inf in one bucket also sum to NaN: then no NaN here)
        low = _where(values, summary.mins, a, b, True)
        high = _where(values, summary.maxs, a, b, False)
        picked.extend((low, high) if low < high else (high, low) if high < low else (low,))
    rest = _indexable(values[covered:])
    picked.extend(covered + i for i in downsample_minmax(rest, tail) if covered + i > 0)
    picked.append(n - 1)
    return sorted(set(picked))


def _where(values: "array[float]", extremes: "array[float]", a: int, b: int, low: bool) -> int:
    """Where the first point holding the lowest (or highest) extreme of blocks a..b is."""
    seg = extremes[a:b]
    x = min(seg) if low else max(seg)
    start = (a + seg.index(x)) * BLOCK
    return start + _indexable(values[start : start + BLOCK]).index(x)


def _indexable(values: Any) -> Any:
    """``values`` with an ``index`` method: a memoryview (a sealed store's column) as a list."""
    return values.tolist() if isinstance(values, memoryview) else values


def _first_nan(values: "array[float]", summary: Summary, a: int, b: int) -> Optional[int]:
    for c in range(a, b):
        if math.isnan(summary.sums[c]):
            start = c * BLOCK
            for i, v in enumerate(values[start : start + BLOCK]):
                if v != v:
                    return start + i
    return None
