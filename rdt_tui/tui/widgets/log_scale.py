"""A log scale that survives repaints.

plotext's ``build()`` replaces the y data it holds with its log10 on every render when the y
scale is ``log``, so a second render without a new ``plot()`` (a resize, a repaint) takes the
log of the log, and fails on values below 1 with a traceback. The charts plot log10 of their
values on a linear axis instead and label the ticks with the values themselves.
"""

from __future__ import annotations

import math


def log10_all(values: list[float]) -> list[float]:
    """log10 of positive values (the caller has dropped the others)."""
    return [math.log10(v) for v in values]


def log_ticks(lo: float, hi: float, count: int = 5) -> tuple[list[float], list[str]]:
    """Tick positions from ``lo`` to ``hi`` on a log10 axis, labelled with the values."""
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    positions = [lo + (hi - lo) * k / (count - 1) for k in range(count)]
    return positions, [f"{10**p:.3g}" for p in positions]
