"""Two more readers of a ``MetricStore``'s points after a seq, beside ``since`` (the wire's
lists): packed columns for a client that asks for them, and raw array slices for the daemon's
own alert rules. Neither makes a list per column nor a number's text.

``packed_since``: each column the base64 of its little-endian array (``wire.pack_column``),
a copy of bytes; a client decodes them with ``wire.decode_columns`` as it does the lists.
``raw_since``: ``(name, steps, values)`` array slices, NO_STEP where a point has no step and
NaN and Inf as they are.
"""

import bisect
from typing import Any, Dict, List, Tuple

from ..protocol.wire import PACKED, pack_column
from .metricstore import MetricStore

Spans = List[Tuple[str, Any, int, int]]  # name, its series, [lo, hi) of the points


def _spans(store: MetricStore, seq: int, limit: int) -> Tuple[Spans, int]:
    """Each series' points with seq in (seq, seq + limit], and the last seq (as ``since``)."""
    store._intact()
    last = min(store.last_seq, seq + max(limit, 0))
    out: Spans = []
    if last <= seq:
        return out, seq
    for k, s in enumerate(store._series):
        lo = bisect.bisect_right(s.seq, seq)
        hi = bisect.bisect_right(s.seq, last, lo)
        if hi > lo:
            out.append((store.names[k], s, lo, hi))
    return out, last


def packed_since(store: MetricStore, seq: int, limit: int) -> Tuple[Dict[str, Any], int]:
    """``store.since(seq, limit)`` with each column packed."""
    spans, last = _spans(store, seq, limit)
    series = {
        name: {
            "seq": pack_column(s.seq[lo:hi]),
            "step": pack_column(s.step[lo:hi]),
            "value": pack_column(s.value[lo:hi]),
        }
        for name, s, lo, hi in spans
    }
    out: Dict[str, Any] = {"series": series, "count": last - seq, "packed": PACKED}
    if last > seq:
        out["times"] = store._times(seq, last)
    return out, last


def raw_since(store: MetricStore, seq: int, limit: int) -> Tuple[List[Tuple[str, Any, Any]], int]:
    """The points after ``seq`` as ``(name, steps, values)`` array slices, and the last seq."""
    spans, last = _spans(store, seq, limit)
    return [(name, s.step[lo:hi], s.value[lo:hi]) for name, s, lo, hi in spans], last
