"""JSON Lines framing: one object per line, UTF-8.

Requests are ``{"id", "op", "args"}``; replies ``{"id", "ok": true, "result"}`` or
``{"id", "ok": false, "error": {"code", "message", "hint"}}``; pushed events
``{"event", "run", "seq", "data"}``. A line that is not protocol (a shell banner, a locale
warning printed by a login script) is skipped by :func:`decode_line`, never fatal.

JSON has no spelling for NaN and the infinities: a float travels as the text ``"nan"``,
``"inf"``, ``"-inf"`` (what ``str`` gives them and ``float`` reads back) through the one pair
:func:`encode_float` / :func:`decode_float` (and their column forms). Metric points travel as
columns per name; :func:`decode_columns` decodes them, still as columns, for the console.
A client that asks for them ``packed`` gets each column as the base64 of its little-endian
int64 (seq, step) or float64 (value) array (:func:`pack_column`): the agent copies its arrays
out without making a number's text, and NaN and Inf travel as they are.
What each payload holds is in ``messages.py``.
"""

import base64
import json
import math
import sys
from array import array
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .messages import MetricBatch, MetricColumn, Point, WireFloat

PROTOCOL_VERSION = 1

# The longest line either end accepts; a longer one is a bug or an attack, not a message.
MAX_LINE = 16 * 1024 * 1024


# Built once: json.dumps with options makes a new encoder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_float(value: float) -> WireFloat:
    """``value`` as the wire carries it: a finite float as it is, NaN and the infinities as
    ``"nan"``, ``"inf"``, ``"-inf"``. :func:`decode_float` reads it back."""
    return value if math.isfinite(value) else str(value)


def decode_float(value: Union[WireFloat, int]) -> float:
    """A value :func:`encode_float` wrote (or a JSON number) as a float, NaN and Inf included."""
    return float(value)


def encode_floats(values: Sequence[float]) -> List[WireFloat]:
    """A column of floats as the wire carries it; a column with no NaN or Inf (the usual case)
    is copied without per-value work."""
    if math.isfinite(sum(values)):  # false for a NaN or Inf anywhere (or an overflowing sum)
        return list(values)
    return [encode_float(v) for v in values]


def decode_floats(values: Iterable[Union[WireFloat, int]]) -> List[float]:
    """A column :func:`encode_floats` wrote, as floats."""
    return [float(v) for v in values]


# The ``packed`` field of metric columns packed by :func:`pack_column`; a step column's
# NO_STEP (the least int64) is a point without a step.
PACKED = "b64le"
NO_STEP = -(2**63)


def pack_column(column: Any) -> str:
    """An int64 (``"q"``) or float64 (``"d"``) array, or a memoryview of one, as base64 of its
    little-endian bytes: no per-value work."""
    if isinstance(column, memoryview):  # a sealed store's mapped column
        typecode, raw = column.format, column.cast("B")
    else:
        typecode, raw = column.typecode, column
    if sys.byteorder != "little":
        swapped = array(typecode, bytes(raw))
        swapped.byteswap()
        return base64.b64encode(swapped).decode("ascii")
    return base64.b64encode(raw).decode("ascii")


def unpack_column(text: str, typecode: str) -> List[Any]:
    """A column :func:`pack_column` wrote (``typecode`` ``"q"`` or ``"d"``), as a list."""
    column = array(typecode, base64.b64decode(text))
    if sys.byteorder != "little":
        column.byteswap()
    return column.tolist()


def encode(message: Dict[str, Any]) -> bytes:
    """One message as a line of compact JSON (non-ASCII kept as UTF-8)."""
    return (_ENCODER.encode(message) + "\n").encode("utf-8")


def decode_line(line: bytes) -> Optional[Dict[str, Any]]:
    """The message on a line, or None when the line is not protocol."""
    line = line.strip()
    if not line.startswith(b"{"):
        return None
    try:
        obj = json.loads(line.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    if "id" in obj or "event" in obj:
        return obj
    return None


def request(req_id: str, op: str, args: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    return {"id": req_id, "op": op, "args": args or {}}


def reply_ok(req_id: Any, result: Any) -> Dict[str, Any]:
    return {"id": req_id, "ok": True, "result": result}


def reply_error(req_id: Any, code: str, message: str, hint: str = "") -> Dict[str, Any]:
    return {"id": req_id, "ok": False, "error": {"code": code, "message": message, "hint": hint}}


def event(name: str, run: Optional[str], seq: int, data: Any) -> Dict[str, Any]:
    """A pushed event. ``seq`` is the position to pass as ``since`` to get what follows it."""
    return {"event": name, "run": run, "seq": seq, "data": data}


def decode_columns(columns: Mapping[str, Any]) -> MetricBatch:
    """Metric points as the agent sends them (``messages.MetricColumnsWire``: ``{"series":
    {name: {"seq": [...], "step": [...], "value": [...], "source"}}, "times": [[first_seq, t],
    ...]}``) decoded, still as
    columns per name: values as floats (NaN and Inf included) and each point's time, that of
    the batch it was parsed in (None when the answer carries no times)."""
    times = columns.get("times") or []
    packed = columns.get("packed") == PACKED
    series: Dict[str, MetricColumn] = {}
    for name, col in (columns.get("series") or {}).items():
        if packed:
            col = _unpacked(col)
        seqs = list(col.get("seq") or [])
        ts: List[Optional[float]] = []
        i = 0
        for seq in seqs:  # seqs ascend: one walk over the batches
            while i + 1 < len(times) and times[i + 1][0] <= seq:
                i += 1
            ts.append(times[i][1] if times else None)
        series[name] = {
            "seq": seqs,
            "step": list(col.get("step") or []),
            "value": decode_floats(col.get("value") or []),
            "t": ts,
            # "events": read from a TensorBoard event file
            "source": col.get("source") or "log",
        }
    return {"series": series, "count": int(columns.get("count") or 0)}


def _unpacked(col: Mapping[str, Any]) -> Dict[str, Any]:
    steps = unpack_column(col.get("step") or "", "q")
    if steps and min(steps) == NO_STEP:
        steps = [None if v == NO_STEP else v for v in steps]
    return dict(
        col,
        seq=unpack_column(col.get("seq") or "", "q"),
        step=steps,
        value=unpack_column(col.get("value") or "", "d"),
    )


def points_of(batch: MetricBatch) -> List[Point]:
    """The points of decoded columns as one list in seq order (for a reader that goes point by
    point: the CLI's output, the alert checks). A point with the same name and step as the last
    earlier point of its name replaces it (a step tqdm painted again: the agent sends the new
    value under a new seq; ``core.metrics.keep_latest`` applies it)."""
    points: List[Point] = []
    for name, col in batch["series"].items():
        source = col["source"]
        for seq, step, value, t in zip(col["seq"], col["step"], col["value"], col["t"]):
            points.append(
                {"seq": seq, "name": name, "value": value, "step": step, "source": source, "t": t}
            )
    points.sort(key=lambda p: p["seq"])
    return points


def last_step(series: Mapping[str, MetricColumn]) -> Optional[Tuple[int, Optional[float]]]:
    """The step and time of the newest point (by seq) that has a step, across the columns
    (None when no point has one): where a run's progress stands after a batch."""
    best: Optional[Tuple[int, int, Optional[float]]] = None
    for col in series.values():
        for seq, step, t in zip(col["seq"], col["step"], col["t"]):
            if step is not None and (best is None or seq > best[0]):
                best = (seq, step, t)
    return None if best is None else (best[1], best[2])


def expand_points(columns: Mapping[str, Any]) -> List[Point]:
    """Metric points sent as columns (see :func:`decode_columns`) as one list of point dicts
    in seq order (:func:`points_of`)."""
    return points_of(decode_columns(columns))
