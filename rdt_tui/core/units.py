"""Numbers as people read them in a terminal."""

from typing import Optional


def human_size(n: Optional[float], compact: bool = False) -> str:
    """Bytes as ``1.6 MiB`` (or ``1.6M`` when ``compact``); ``-`` when unknown."""
    if n is None:
        return "-"
    units = ("B", "K", "M", "G", "T") if compact else ("B", "KiB", "MiB", "GiB", "TiB")
    sep = "" if compact else " "
    value = float(n)
    for unit in units:
        if abs(value) < 1024 or unit == units[-1]:
            return f"{value:.0f}{sep}{unit}" if unit == "B" else f"{value:.1f}{sep}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_age(seconds: Optional[float]) -> str:
    """How long ago, in one unit: ``4s``, ``12m``, ``3h``, ``2d``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s >= 2 * 86400:
        return f"{s // 86400}d"
    return f"{s // 3600}h" if s >= 3600 else f"{s // 60}m" if s >= 60 else f"{s}s"


def human_duration(seconds: Optional[float]) -> str:
    """``1h02m`` or ``3m07s``; ``-`` when unknown or negative."""
    if seconds is None or seconds < 0:
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
