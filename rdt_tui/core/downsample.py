"""Shrink a long series to a few points without hiding its spikes.

Each bucket keeps its minimum and its maximum (in their original order), so a loss spike
survives downsampling where plain striding or averaging would hide it; a NaN in a bucket is
kept in place of the extremes, since a NaN loss is the thing a user most needs to see.
The per-bucket work is slicing plus the built-in ``min``/``max``/``index``, which run in C
on lists and ``array.array`` alike: millions of points take a fraction of a second.
"""

import math
from typing import List, Sequence


def downsample_minmax(values: Sequence[float], target: int) -> List[int]:
    """Indices of at most ``target`` points of ``values`` (first and last kept), ascending."""
    n = len(values)
    if target <= 0 or n == 0:
        return []
    if n <= target:
        return list(range(n))
    if target < 4:
        stride = (n - 1) / max(target - 1, 1)
        return sorted({round(i * stride) for i in range(target)})
    buckets = (target - 2) // 2
    span = (n - 2) / buckets
    picked = [0]
    for b in range(buckets):
        lo = 1 + int(b * span)
        hi = 1 + int((b + 1) * span)
        if hi <= lo:
            continue
        seg = values[lo:hi]
        total = math.fsum(seg) if len(seg) < 8 else sum(seg)
        if math.isnan(total):
            nan_at = next((i for i, v in enumerate(seg) if v != v), None)
            if nan_at is not None:
                picked.append(lo + nan_at)
                continue
        i_min = lo + seg.index(min(seg))
        i_max = lo + seg.index(max(seg))
        picked.extend(
            (i_min, i_max) if i_min < i_max else (i_max, i_min) if i_max < i_min else (i_min,)
        )
    picked.append(n - 1)
    return picked
