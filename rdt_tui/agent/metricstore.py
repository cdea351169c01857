"""A run's parsed metric points, in memory and on disk, addressed by sequence number.

Points are numbered 1, 2, 3... in the order they were parsed. Each metric name keeps four
8-byte columns in memory (seq and step as int64, value and time as float64) and appends them
to ``metrics/<n>.<column>`` with ``array.tofile``; a restarted daemon loads them with one
``frombytes`` per column instead of re-reading a log that may be gigabytes long.
``cursor.json`` (written after the columns) says how many points are valid, so a crash between
the two only drops a tail that will be parsed again from the saved log offsets.
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


class _Series:
    __slots__ = ("seq", "step", "value")

    def __init__(self) -> None:
        self.seq = array("q")
        self.step = array("q")  # NO_STEP where the line gave no step
        self.value = array("d")

    def __len__(self) -> int:
        return len(self.seq)

    def columns(self) -> Tuple[array, array, array]:
        return self.seq, self.step, self.value


def _finite_list(col: array) -> List[Any]:
    """A column as a JSON-safe list: NaN/Inf values as strings (JSON has no spelling for them)."""
    values = col.tolist()
    if math.isfinite(sum(col)):
        return values
    return [v if math.isfinite(v) else str(v) for v in values]


NO_STEP = -(2**63)


def _step_list(col: array) -> List[Any]:
    values = col.tolist()
    if not values or min(col) != NO_STEP:
        return values  # every point knew its step: no per-point work
    return [None if v == NO_STEP else v for v in values]


class MetricStore:
    def __init__(self, directory: str) -> None:
        self.directory = ensure_private_dir(directory)
        self.names: List[str] = []
        self._index: Dict[str, int] = {}
        self._series: List[_Series] = []
        self.last_seq = 0
        self._files: Dict[int, List[Any]] = {}
        # First seq of each appended batch, and when it was parsed.
        self._batch_seq = array("q")
        self._batch_t = array("d")
        self._batches: Optional[Any] = None

    # ----- writing -----------------------------------------------------------------------
    def append(self, points: Sequence[MetricPoint], now: float) -> Tuple[int, int]:
        """Number and keep ``points``; the first and last seq they were given."""
        first = self.last_seq + 1
        touched: Dict[int, int] = {}
        index, series = self._index, self._series
        seq = self.last_seq
        for name, value, step in points:
            k = index.get(name)
            if k is None:
                k = self._add_name(name)
            seq += 1
            s = series[k]
            s.seq.append(seq)
            s.step.append(NO_STEP if step is None else step)
            s.value.append(value)
            touched[k] = touched.get(k, 0) + 1
        if seq >= first:
            # Every point of a batch was parsed at the same moment: one time per batch.
            self._batch_seq.append(first)
            self._batch_t.append(now)
            array("d", (first, now)).tofile(self._batches_file())
        self.last_seq = seq
        for k, n in touched.items():
            for col, fh in zip(series[k].columns(), self._file(k)):
                col[-n:].tofile(fh)
                fh.flush()
        return first, self.last_seq

    def _add_name(self, name: str) -> int:
        k = len(self.names)
        self._index[name] = k
        self.names.append(name)
        self._series.append(_Series())
        write_atomic(
            os.path.join(self.directory, "names.json"), json.dumps(self.names).encode("utf-8")
        )
        return k

    def _file(self, k: int) -> List[Any]:
        handles = self._files.get(k)
        if handles is None:
            # Held open for the life of the watcher: appends happen several times a second.
            handles = self._files[k] = [
                open(self._column_path(k, col), "ab")  # noqa: SIM115
                for col in _COLUMNS
            ]
        return handles

    def _batches_file(self) -> Any:
        if self._batches is None:
            path = os.path.join(self.directory, "batches.f64")
            self._batches = open(path, "ab")  # noqa: SIM115 - open while the run is watched
        return self._batches

    def _column_path(self, k: int, col: str) -> str:
        return os.path.join(self.directory, f"{k}.{col}")

    def save_cursor(self, extra: Dict[str, Any]) -> None:
        counts = {str(k): len(s) for k, s in enumerate(self._series)}
        # Not fsynced: the cursor is a cache. Lost or torn by a power cut, it only makes the
        # next daemon parse the log again (an older cursor also works: columns are cut to it).
        write_json_atomic(
            os.path.join(self.directory, "cursor.json"),
            dict(extra, last_seq=self.last_seq, counts=counts),
            durable=False,
        )

    def close(self) -> None:
        for handles in self._files.values():
            for fh in handles:
                fh.close()
        self._files.clear()
        if self._batches is not None:
            self._batches.close()
            self._batches = None

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
            for col, column in zip(_COLUMNS, s.columns()):
                path = self._column_path(k, col)
                try:
                    with open(path, "rb") as fh:
                        column.frombytes(fh.read(want * 8))
                except FileNotFoundError:
                    pass
                if len(column) < want:
                    self._reset_files()
                    return None  # records lost: parse the logs again rather than serve a gap
                with open(path, "ab") as fh:
                    fh.truncate(want * 8)  # drop a tail written after the cursor
            self.names.append(str(name))
            self._index[str(name)] = k
            self._series.append(s)
        self.last_seq = int(cursor.get("last_seq", 0))
        pairs = array("d")
        path = os.path.join(self.directory, "batches.f64")
        try:
            with open(path, "rb") as fh:
                pairs.frombytes(fh.read())
        except FileNotFoundError:
            pass
        keep = 0
        for i in range(0, len(pairs) - 1, 2):
            if pairs[i] > self.last_seq:
                break
            self._batch_seq.append(int(pairs[i]))
            self._batch_t.append(pairs[i + 1])
            keep = i + 2
        with open(path, "ab") as fh:
            fh.truncate(keep * 8)
        return cursor

    def _reset_files(self) -> None:
        self.names, self._index, self._series = [], {}, []
        for name in os.listdir(self.directory):
            if name.split(".")[-1] in _COLUMNS or name in (
                "names.json",
                "cursor.json",
                "batches.f64",
            ):
                os.unlink(os.path.join(self.directory, name))

    # ----- reading -----------------------------------------------------------------------
    def since(self, seq: int, limit: int = 100000) -> Tuple[Dict[str, Any], int]:
        """Points with seq in (seq, seq + limit], as columns per name, and the last seq given.

        Sequence numbers are contiguous across names, so the cut needs no merge: each series
        gives its slice between two bisections, copied out by C-level ``tolist``.
        """
        last = min(self.last_seq, seq + max(limit, 0))
        series: Dict[str, Any] = {}
        if last <= seq:
            return {"series": series, "count": 0}, seq
        for k, s in enumerate(self._series):
            lo = bisect.bisect_right(s.seq, seq)
            hi = bisect.bisect_right(s.seq, last, lo)
            if hi > lo:
                series[self.names[k]] = {
                    "seq": s.seq[lo:hi].tolist(),
                    "step": _step_list(s.step[lo:hi]),
                    "value": _finite_list(s.value[lo:hi]),
                }
        return {"series": series, "count": last - seq, "times": self._times(seq, last)}, last

    def _times(self, seq: int, last: int) -> List[List[float]]:
        """``[[first_seq, t], ...]``: when the batches holding points seq+1..last were parsed."""
        lo = max(0, bisect.bisect_right(self._batch_seq, seq + 1) - 1)
        hi = bisect.bisect_right(self._batch_seq, last)
        return [[self._batch_seq[i], self._batch_t[i]] for i in range(lo, hi)]

    def time_of(self, seq: int) -> float:
        i = bisect.bisect_right(self._batch_seq, seq) - 1
        return self._batch_t[i] if i >= 0 else 0.0

    def history(self, names: Optional[Sequence[str]], points: int) -> Dict[str, Any]:
        """Each series downsampled to at most ``points`` points, spikes kept."""
        series: Dict[str, Any] = {}
        for k, name in enumerate(self.names):
            if names and name not in names:
                continue
            s = self._series[k]
            idx = downsample_minmax(s.value, points)
            series[name] = {
                "count": len(s),
                "step": _step_list(array("q", (s.step[i] for i in idx))),
                "value": _finite_list(array("d", (s.value[i] for i in idx))),
                "t": [self.time_of(s.seq[i]) for i in idx],
                "last": _finite_list(s.value[-1:])[0] if len(s) else None,
            }
        return {"last_seq": self.last_seq, "series": series}


_COLUMNS = ("seq", "step", "value")
