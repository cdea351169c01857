"""A run's parsed metric points, in memory and on disk, addressed by sequence number.

Points are numbered 1, 2, 3... in the order they were parsed. Each metric name keeps four
float64 columns (seq, step, value, time) in memory and appends the same 32-byte records to
``metrics/<n>.f64``; a restarted daemon loads them with one ``frombytes`` per name instead of
re-reading a log that may be gigabytes long. ``cursor.json`` (written atomically after the
records) says how many records are valid, so a crash between the two only drops a tail that
will be parsed again from the saved log offsets.
"""

import bisect
import json
import math
import os
from array import array
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..core.downsample import downsample_minmax
from ..core.metrics import MetricPoint
from .files import CorruptFile, ensure_private_dir, read_json, write_atomic, write_json_atomic

_RECORD = 4  # doubles per point: seq, step (NaN when unknown), value, time

Point = Dict[str, Any]


class _Series:
    __slots__ = ("seq", "step", "t", "value")

    def __init__(self) -> None:
        self.seq = array("d")
        self.step = array("d")
        self.value = array("d")
        self.t = array("d")

    def __len__(self) -> int:
        return len(self.seq)


def _json_value(v: float) -> Any:
    return v if math.isfinite(v) else str(v)


def _json_step(s: float) -> Optional[int]:
    return None if s != s else int(s)


class MetricStore:
    def __init__(self, directory: str) -> None:
        self.directory = ensure_private_dir(directory)
        self.names: List[str] = []
        self._index: Dict[str, int] = {}
        self._series: List[_Series] = []
        self.last_seq = 0
        self._files: Dict[int, Any] = {}

    # ----- writing -----------------------------------------------------------------------
    def append(self, points: Sequence[MetricPoint], now: float) -> Tuple[int, int]:
        """Number and keep ``points``; the first and last seq they were given."""
        first = self.last_seq + 1
        pending: Dict[int, array] = {}
        names_changed = False
        for point in points:
            k = self._index.get(point.name)
            if k is None:
                k = len(self.names)
                self._index[point.name] = k
                self.names.append(point.name)
                self._series.append(_Series())
                names_changed = True
            self.last_seq += 1
            s = self._series[k]
            step = float("nan") if point.step is None else float(point.step)
            s.seq.append(self.last_seq)
            s.step.append(step)
            s.value.append(point.value)
            s.t.append(now)
            rec = pending.get(k)
            if rec is None:
                rec = pending[k] = array("d")
            rec.extend((self.last_seq, step, point.value, now))
        if names_changed:
            write_atomic(
                os.path.join(self.directory, "names.json"), json.dumps(self.names).encode("utf-8")
            )
        for k, rec in pending.items():
            self._file(k).write(rec.tobytes())
        for fh in self._files.values():
            fh.flush()
        return first, self.last_seq

    def _file(self, k: int) -> Any:
        fh = self._files.get(k)
        if fh is None:
            # Held open for the life of the watcher: appends happen several times a second.
            fh = self._files[k] = open(os.path.join(self.directory, f"{k}.f64"), "ab")  # noqa: SIM115
        return fh

    def save_cursor(self, extra: Dict[str, Any]) -> None:
        counts = {str(k): len(s) for k, s in enumerate(self._series)}
        write_json_atomic(
            os.path.join(self.directory, "cursor.json"),
            dict(extra, last_seq=self.last_seq, counts=counts),
        )

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()

    # ----- loading -----------------------------------------------------------------------
    def load(self) -> Optional[Dict[str, Any]]:
        """Read back what a previous daemon kept; its cursor, or None to start from scratch."""
        try:
            cursor = read_json(os.path.join(self.directory, "cursor.json"))
            names = read_json(os.path.join(self.directory, "names.json")) or []
        except CorruptFile:
            cursor = None
        if not isinstance(cursor, dict) or not isinstance(names, list):
            self._reset_files()
            return None
        counts = cursor.get("counts") or {}
        for k, name in enumerate(names):
            want = int(counts.get(str(k), 0))
            s = _Series()
            path = os.path.join(self.directory, f"{k}.f64")
            data = array("d")
            try:
                with open(path, "rb") as fh:
                    data.frombytes(fh.read(want * _RECORD * 8))
            except FileNotFoundError:
                pass
            if len(data) < want * _RECORD:
                self._reset_files()
                return None  # records lost: parse the logs again rather than serve a gap
            s.seq, s.step, s.value, s.t = (data[i::_RECORD] for i in range(_RECORD))
            with open(path, "ab") as fh:
                fh.truncate(want * _RECORD * 8)  # drop a tail written after the cursor
            self.names.append(str(name))
            self._index[str(name)] = k
            self._series.append(s)
        self.last_seq = int(cursor.get("last_seq", 0))
        return cursor

    def _reset_files(self) -> None:
        for name in os.listdir(self.directory):
            if name.endswith(".f64") or name in ("names.json", "cursor.json"):
                os.unlink(os.path.join(self.directory, name))

    # ----- reading -----------------------------------------------------------------------
    def since(self, seq: int, limit: int = 100000) -> Tuple[List[Point], int]:
        """Points with seq > ``seq`` (at most ``limit``, oldest first) and the last seq given."""
        picked: List[Tuple[float, int, int]] = []
        for k, s in enumerate(self._series):
            start = bisect.bisect_right(s.seq, seq)
            end = min(len(s), start + limit)
            picked.extend((s.seq[i], k, i) for i in range(start, end))
        picked.sort()
        del picked[limit:]
        out = [self._point(k, i) for _, k, i in picked]
        return out, (out[-1]["seq"] if out else seq)

    def _point(self, k: int, i: int) -> Point:
        s = self._series[k]
        return {
            "seq": int(s.seq[i]),
            "name": self.names[k],
            "value": _json_value(s.value[i]),
            "step": _json_step(s.step[i]),
            "t": s.t[i],
        }

    def history(self, names: Optional[Sequence[str]], points: int) -> Dict[str, Any]:
        """Each series downsampled to at most ``points`` points, spikes kept."""
        series: Dict[str, Any] = {}
        for k, name in enumerate(self.names):
            if names and name not in names:
                continue
            s = self._series[k]
            idx = downsample_minmax(range(len(s)), s.value, points)
            series[name] = {
                "count": len(s),
                "step": [_json_step(s.step[i]) for i in idx],
                "value": [_json_value(s.value[i]) for i in idx],
                "t": [s.t[i] for i in idx],
                "last": _json_value(s.value[-1]) if len(s) else None,
            }
        return {"last_seq": self.last_seq, "series": series}
