"""Scalars from TensorBoard event files, exact step and value, read with the standard library.

The ``Event`` and ``Summary`` messages are decoded by hand from the protobuf wire format; the
field numbers are those of tensorboard/compat/proto (event.proto, summary.proto, tensor.proto):

- Event: wall_time=1 (double), step=2 (int64), file_version=3 (string), summary=5,
  session_log=7 (SessionLog: status=1, START=1).
- Summary: value=1 (repeated). Value: tag=1, simple_value=2 (float), tensor=8, metadata=9
  (SummaryMetadata: plugin_data=1 (PluginData: plugin_name=1)).
- TensorProto: dtype=1, tensor_shape=2, tensor_content=4 (raw little-endian), float_val=5,
  double_val=6, int_val=7, int64_val=10, bool_val=11, half_val=13.

A scalar is a ``simple_value`` (``add_scalar``'s default) or a one-element numeric tensor of a
tag whose first metadata names the ``scalars`` plugin (``new_style=True``, TF2 summaries);
other plugins (histograms, images, text) are not scalars. As in TensorBoard, a tag's metadata
counts from its first appearance in a run directory.

Steps that go back are handled as TensorBoard's ``plugin_event_accumulator`` does: files of
``file_version`` 2 (every current writer) purge everything at or after the step of a
*second* ``SessionLog.START``; older files purge, for the tags of an event, everything at or
after its step when the step is below the last summary's. Other out-of-order steps are kept,
so a resumed run's later points at the same steps replace the earlier ones in the store.
"""

import struct
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")
_HALF = struct.Struct("<e")

# TensorProto dtype -> (struct code of tensor_content, field holding the value list)
_DTYPES = {
    1: ("f", 5),  # DT_FLOAT: float_val
    2: ("d", 6),  # DT_DOUBLE: double_val
    3: ("i", 7),  # DT_INT32: int_val
    9: ("q", 10),  # DT_INT64: int64_val
    19: ("e", 13),  # DT_HALF: half_val (stored as int bits)
    10: ("?", 11),  # DT_BOOL: bool_val
}
SESSION_START = 1


class Value(NamedTuple):
    tag: str
    value: Optional[float]  # None: not a number we read (a histogram, an image, text)
    kind: str  # "simple" | "tensor" | ""
    plugin: Optional[str]  # the plugin its metadata names, when it has metadata


class Event(NamedTuple):
    wall_time: float
    step: int
    file_version: Optional[str]
    session_start: bool
    values: List[Value]
    has_summary: bool


def _varint(buf: bytes, pos: int) -> Tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> List[Tuple[int, int, Any]]:
    """(field number, wire type, value): an int for varints, bytes for the others."""
    out: List[Tuple[int, int, Any]] = []
    pos, end = 0, len(buf)
    while pos < end:
        key = buf[pos]  # one-byte keys and lengths inline: nearly all of them are
        if key < 0x80:
            pos += 1
        else:
            key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            n = buf[pos]
            if n < 0x80:
                pos += 1
            else:
                n, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > end:
            raise ValueError("message ends inside a field")
        out.append((field, wire, value))
    return out


def _signed64(n: int) -> int:
    return n - (1 << 64) if n >= 1 << 63 else n


def decode_event(data: bytes) -> Event:
    """One serialized ``Event``; ValueError when the bytes are not one."""
    try:
        return _one_simple_value(data) or _decode_event(data)
    except (IndexError, struct.error) as exc:
        raise ValueError(f"not an Event message: {exc}") from None


def _one_simple_value(d: bytes) -> Optional[Event]:
    """The shape of nearly every record (``add_scalar``: wall_time, step, one value with a tag
    and a ``simple_value``), read by offsets; None for any other shape, left to the general
    decoder. About twice as fast as it, and decoding is most of the reader's time."""
    end = len(d)
    if end < 20 or d[0] != 0x09:
        return None
    pos, step = 9, 0
    if d[9] == 0x10:  # proto3 leaves out a step of 0
        pos, shift = 10, 0
        while True:
            b = d[pos]
            pos += 1
            step |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
        if step >= 1 << 63:
            step -= 1 << 64
    # summary (5), its one value (1), the value's tag (1): one-byte lengths, nested exactly
    if (
        d[pos] != 0x2A
        or d[pos + 1] != end - pos - 2
        or d[pos + 2] != 0x0A
        or d[pos + 3] != end - pos - 4
        or d[pos + 4] != 0x0A
    ):
        return None
    n = d[pos + 5]
    tag_end = pos + 6 + n
    if n >= 0x80 or tag_end + 5 != end or d[tag_end] != 0x15:
        return None
    tag = d[pos + 6 : tag_end].decode("utf-8", "replace")
    value = _FLOAT.unpack_from(d, tag_end + 1)[0]
    wall = _DOUBLE.unpack_from(d, 1)[0]
    return Event(wall, step, None, False, [Value(tag, value, "simple", None)], True)


def _decode_event(data: bytes) -> Event:
    wall_time, step, version, start = 0.0, 0, None, False
    values: List[Value] = []
    has_summary = False
    for field, wire, value in _fields(data):
        if field == 1 and wire == 1:
            wall_time = _DOUBLE.unpack(value)[0]
        elif field == 2 and wire == 0:
            step = _signed64(value)
        elif field == 3 and wire == 2:
            version = value.decode("utf-8", "replace")
        elif field == 5 and wire == 2:
            has_summary = True
            values.extend(_value(v) for f, w, v in _fields(value) if f == 1 and w == 2)
        elif field == 7 and wire == 2:
            start = any(f == 1 and v == SESSION_START for f, _w, v in _fields(value))
    return Event(wall_time, step, version, start, values, has_summary)


def _value(buf: bytes) -> Value:
    tag, number, kind, plugin = "", None, "", None
    for field, wire, value in _fields(buf):
        if field == 1 and wire == 2:
            tag = value.decode("utf-8", "replace")
        elif field == 2 and wire == 5:
            number, kind = _FLOAT.unpack(value)[0], "simple"
        elif field == 8 and wire == 2:
            number, kind = _tensor_scalar(value), "tensor"
        elif field == 9 and wire == 2:
            plugin = ""
            for f, w, v in _fields(value):
                if f == 1 and w == 2:
                    plugin = next(
                        (p.decode("utf-8", "replace") for g, _w, p in _fields(v) if g == 1), ""
                    )
    return Value(tag, number, kind, plugin)


def _tensor_scalar(buf: bytes) -> Optional[float]:
    """The value of a one-element numeric tensor, else None."""
    dtype, content, elements = 0, None, 1
    lists: Dict[int, List[Tuple[int, Any]]] = {}
    for field, wire, value in _fields(buf):
        if field == 1 and wire == 0:
            dtype = value
        elif field == 2 and wire == 2:
            for f, _w, dim in _fields(value):
                if f == 2:
                    size = next((v for g, _w2, v in _fields(dim) if g == 1), 0)
                    elements *= _signed64(size)
        elif field == 4 and wire == 2:
            content = value
        else:
            lists.setdefault(field, []).append((wire, value))
    spec = _DTYPES.get(dtype)
    if spec is None or elements != 1:
        return None
    code, list_field = spec
    if content:
        size = struct.calcsize("<" + code)
        return float(struct.unpack_from("<" + code, content)[0]) if len(content) >= size else None
    entries = lists.get(list_field)
    if not entries:
        return 0.0  # proto3: an all-default tensor is written with no values
    wire, raw = entries[0]
    if code in "fd":
        fmt = _FLOAT if code == "f" else _DOUBLE
        return float(fmt.unpack_from(raw)[0])  # packed or not, the first value leads
    n = raw if wire == 0 else _varint(raw, 0)[0]
    if code == "e":
        return float(_HALF.unpack(struct.pack("<H", n & 0xFFFF))[0])
    if code == "?":
        return float(bool(n))
    return float(_signed64(n) if code == "q" else _signed32(n))


def _signed32(n: int) -> int:
    n &= 0xFFFFFFFF
    return n - (1 << 32) if n >= 1 << 31 else n


def parse_file_version(text: Optional[str]) -> float:
    """``brain.Event:2`` -> 2.0; -1 for anything else (TensorBoard's event_util)."""
    if not text or not text.startswith("brain.Event:"):
        return -1.0
    try:
        return float(text[len("brain.Event:") :])
    except ValueError:
        return -1.0


class Purge(NamedTuple):
    """Points at or after ``step`` are orphaned: of ``tags`` (None: of every tag)."""

    step: int
    tags: Optional[List[str]]


class RunScalars:
    """What one TensorBoard run (a directory's files, in order) adds up to, event by event.

    ``add`` returns the scalar points of an event and the purge it implies; the state it keeps
    (file version, the last summary step, whether a session started, each tag's plugin) is a
    few numbers per directory and one string per tag, saved in the watcher's cursor.
    """

    def __init__(self, state: Optional[Dict[str, Any]] = None) -> None:
        state = state or {}
        self.file_version: float = float(state.get("file_version", -1.0))
        self.most_recent_step: int = int(state.get("most_recent_step", -1))
        self.seen_start: bool = bool(state.get("seen_start", False))
        self.plugins: Dict[str, str] = dict(state.get("plugins") or {})

    def state(self) -> Dict[str, Any]:
        return {
            "file_version": self.file_version,
            "most_recent_step": self.most_recent_step,
            "seen_start": self.seen_start,
            "plugins": self.plugins,
        }

    def add(self, ev: Event) -> Tuple[List[Tuple[str, int, float, float]], Optional[Purge]]:
        if ev.file_version is not None:
            self.file_version = parse_file_version(ev.file_version)
        purge = None
        if self.file_version >= 2:
            if ev.session_start:
                if self.seen_start:
                    purge = Purge(ev.step, None)
                self.seen_start = True
        elif ev.step < self.most_recent_step and ev.has_summary:
            purge = Purge(ev.step, [v.tag for v in ev.values])
        if ev.has_summary:
            self.most_recent_step = ev.step
        points = []
        for v in ev.values:
            if v.plugin is not None and v.tag not in self.plugins:
                self.plugins[v.tag] = v.plugin
            if v.value is None:
                continue
            if v.kind == "tensor" and self.plugins.get(v.tag) != "scalars":
                continue
            points.append((v.tag, ev.step, v.value, ev.wall_time))
        return points, purge
