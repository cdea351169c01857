"""A metric point, the unit every parser (``core/metrics.py``, ``core/formats.py``, the agent's
event files) gives and the agent's store keeps, and what a step may be."""

from typing import NamedTuple, Optional


class MetricPoint(NamedTuple):
    name: str
    value: float
    step: Optional[int]


# Steps beyond this are not steps (and stay exact in a float64 and an int64).
MAX_STEP = 2**53


def as_step(value: object) -> Optional[int]:
    """``value`` as a step, or None when it cannot be one (NaN, Inf, beyond ``MAX_STEP``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    if not -MAX_STEP <= number <= MAX_STEP:  # also false for NaN
        return None
    return int(number)
