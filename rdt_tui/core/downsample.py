"""Shrink a long series to a few points without hiding its spikes.

Each bucket keeps its minimum and its maximum (in their original order), so a loss spike or a
NaN-adjacent jump survives downsampling, which plain striding or averaging would hide.
"""

from typing import List, Sequence, Tuple, TypeVar

T = TypeVar("T")


def downsample_minmax(items: Sequence[T], values: Sequence[float], target: int) -> List[T]:
    """At most ``target`` of ``items`` (first and last always kept), chosen by ``values``."""
    n = len(items)
    if target <= 0:
        return []
    if n <= target:
        return list(items)
    if target < 4:
        step = (n - 1) / max(target - 1, 1)
        return [items[round(i * step)] for i in range(target)]
    inner_buckets = (target - 2) // 2
    picked: List[int] = [0]
    span = (n - 2) / inner_buckets
    for b in range(inner_buckets):
        lo = 1 + int(b * span)
        hi = 1 + int((b + 1) * span)
        if hi <= lo:
            continue
        lo_i, hi_i = _argmin_argmax(values, lo, hi)
        for i in sorted({lo_i, hi_i}):
            picked.append(i)
    picked.append(n - 1)
    return [items[i] for i in picked]


def _argmin_argmax(values: Sequence[float], lo: int, hi: int) -> Tuple[int, int]:
    best_lo = best_hi = lo
    vmin = vmax = values[lo]
    for i in range(lo + 1, hi):
        v = values[i]
        if v != v:  # NaN: show it rather than let it vanish
            return i, i
        if v < vmin:
            vmin, best_lo = v, i
        elif v > vmax:
            vmax, best_hi = v, i
    return best_lo, best_hi
