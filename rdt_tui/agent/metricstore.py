"""A run's parsed metric points, in memory and on disk, addressed by sequence number.

Points are numbered 1, 2, 3... in the order they were parsed. A point whose step equals the
step of the last point of its name *replaces* that point (a tqdm bar repainted for the same
step: the last postfix printed for a step is its value); it still takes the next seq, so a
watcher that already holds the old point gets the new one and replaces by (name, step)
(``core.metrics.keep_latest``), and a client that attaches later only ever sees the new one.

Each name keeps three 8-byte columns in memory (seq and step as int64, value as float64). On
disk a run has ONE append-only record file, ``points.bin``, whatever the number of names (a
job printing 400 distinct names must not hold 1,200 descriptors): each batch of points is one
record of its net effect, per name touched: where its series is cut back to (a replaced last
point) and the seq, step and value columns that follow. A restarted daemon replays them with
one ``frombytes`` per name and batch instead of re-reading a log that may be gigabytes long.

``cursor.json`` (written after the records) says how many bytes are valid, so a crash between
the two only drops a tail that will be parsed again from the saved log offsets; a write that
fails (disk full) is kept in memory and written again with the next batch, and the cursor does
not move past what is on disk.

Runs of tqdm bars come as columns (``core.parsed``) and go in whole (``metricblock``). Long
series keep per-block summaries, saved beside the cursor, that a history is served from
(``metricsummary``). A finished run of a million points or more is also written as contiguous
columns that a restarted daemon maps instead of loading (``metricseal``): memory stays flat.
"""

import bisect
import json
import mmap
import os
import struct
from array import array
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ..core.metrics import MAX_STEP, MetricPoint
from ..core.parsed import BarBlock, BarRun, ParsedPoints, block_points, split_run
from ..protocol.wire import encode_floats
from . import metricseal, metricsummary
from .files import CorruptFile, ensure_private_dir, read_json, write_atomic, write_json_atomic
from .metricblock import append_block, append_run
from .metricstate import NO_STEP
from .metricsummary import Summary, pick

FORMAT = 2
RECORDS = "points.bin"
SUMMARY = "summary.bin"  # per-block summaries of long series (agent/metricsummary.py)
# A batch: how many names it touched, bytes of the new names' JSON, when it was parsed, its
# first and last seq. Then per name: its index, where its series is cut back to (a replaced
# point), how many points follow (seq, step and value columns).
_HEADER = struct.Struct("<IIdqq")
_GROUP = struct.Struct("<Iqq")
MAX_NAMES = 10000  # a name per task is fine; a name per line (a counter in the key) is not
MAX_NAME_LEN = 200


class _Series:
    __slots__ = ("seq", "step", "summary", "value")

    def __init__(self) -> None:
        # Arrays; memoryviews of columns.bin in a sealed store (agent/metricseal.py).
        self.seq: Any = array("q")
        self.step: Any = array("q")  # NO_STEP where the line gave no step
        self.value: Any = array("d")
        self.summary = Summary()  # per-block min/max/sum, for history (agent/metricsummary.py)

    def __len__(self) -> int:
        return len(self.seq)


def _finite_list(col: array) -> List[Any]:
    """A column as the wire carries it (NaN/Inf as text: ``wire.encode_floats``)."""
    return encode_floats(col.tolist())


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
        self.dropped = 0  # points of names past MAX_NAMES or too long to keep
        self.write_error: Optional[str] = None  # the last disk error, None once writes work
        self._fd: Optional[int] = None
        self._written = 0  # bytes of points.bin that are on disk
        self._written_seq = 0  # the last seq those bytes hold
        self._pending = bytearray()  # records not on disk yet (a failed write)
        # First seq of each appended batch, and when it was parsed.
        self._batch_seq: Any = array("q")
        self._batch_t: Any = array("d")
        # A finished run's columns mapped from columns.bin (agent/metricseal.py), not loaded.
        self._mapped: Optional[mmap.mmap] = None
        self._sealed: Optional[Dict[str, Any]] = None  # the cursor's "sealed", while it holds

    # ----- writing -----------------------------------------------------------------------
    def append(
        self, points: Union[Sequence[MetricPoint], ParsedPoints], now: float
    ) -> Tuple[int, int]:
        """Number and keep ``points`` (a parser's ``ParsedPoints``: runs of bars are appended
        as whole columns); the first and last seq they were given. Never raises for what a
        job printed: out-of-range steps are kept without a step, and a disk error is
        remembered in ``write_error`` and retried with the next batch."""
        self._intact()
        if self._mapped is not None:
            metricseal.unseal(self)  # new points for a finished run: its columns into memory again
        first = self.last_seq + 1
        new_names: List[str] = []
        changed: Dict[int, int] = {}  # name -> the first index of its series this batch wrote
        seq = self.last_seq
        parts = points.parts if isinstance(points, ParsedPoints) else [points]
        todo = list(reversed(parts))
        while todo:
            part = todo.pop()
            if isinstance(part, BarRun):
                done = append_run(self, part, seq, changed, new_names)
                if done is None:  # not the same as in line order: its blocks one by one
                    todo.extend(reversed(split_run(part)))
                else:
                    seq = done
                continue
            if isinstance(part, BarBlock):
                done = append_block(self, part, seq, changed, new_names)
                if done is not None:
                    seq = done
                    continue
                part = block_points(part)  # a name the store refuses: point by point
            seq = self._append_points(part, seq, changed, new_names)
        if seq < first:
            return first, self.last_seq
        self.last_seq = seq
        self._sealed = None  # columns.bin no longer holds every point (sealed again at the end)
        self._batch_seq.append(first)
        self._batch_t.append(now)
        # The batch's net effect per name: cut the series back to `keep`, then these points. A
        # point replaced within the batch is never written; a replay is one slice per name.
        names = json.dumps(new_names).encode("utf-8") if new_names else b""
        record = [_HEADER.pack(len(changed), len(names), now, first, seq), names]
        for k, keep in changed.items():
            s = self._series[k]
            record.append(_GROUP.pack(k, keep, len(s.seq) - keep))
            record += (s.seq[keep:].tobytes(), s.step[keep:].tobytes(), s.value[keep:].tobytes())
        self._pending += b"".join(record)
        self._flush()
        return first, self.last_seq

    def _append_points(
        self,
        points: Sequence[MetricPoint],
        seq: int,
        changed: Dict[int, int],
        new_names: List[str],
    ) -> int:
        index, series = self._index, self._series
        for name, value, step in points:
            k = index.get(name)
            if k is None:
                if len(self.names) >= MAX_NAMES or len(name) > MAX_NAME_LEN:
                    self.dropped += 1
                    continue
                k = self._add_name(name)
                new_names.append(name)
            if step is None or not -MAX_STEP <= step <= MAX_STEP:  # False for NaN too
                step = NO_STEP
            elif type(step) is not int:
                step = int(step)  # 5.0 from a project format: an int64 column takes no float
            seq += 1
            s = series[k]
            at = len(s.seq)
            if step != NO_STEP and at and s.step[-1] == step:
                # A repaint of the same step: the new value replaces the old, under a new seq
                # (still the largest of the series, so seq stays sorted for since()).
                at -= 1
                s.seq[at] = seq
                s.value[at] = value
            else:
                s.seq.append(seq)
                s.step.append(step)
                s.value.append(value)
            if k not in changed:
                changed[k] = at
        return seq

    def takes(self, names: List[str]) -> bool:
        """Whether these new names would all be kept (not past MAX_NAMES, none too long)."""
        return len(self.names) + len(names) <= MAX_NAMES and all(
            len(k) <= MAX_NAME_LEN for k in names
        )

    def _add_name(self, name: str) -> int:
        k = len(self.names)
        self._index[name] = k
        self.names.append(name)
        self._series.append(_Series())
        return k

    def _flush(self) -> None:
        try:
            if self._fd is None:
                flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
                self._fd = os.open(os.path.join(self.directory, RECORDS), flags, 0o600)
            # pwrite at our own offset, not O_APPEND: a write torn by a full disk is simply
            # written over by the retry.
            while self._pending:
                n = os.pwrite(self._fd, self._pending, self._written)
                self._written += n
                del self._pending[:n]
        except OSError as exc:
            self.write_error = f"{exc.strerror or exc} ({self.directory})"
            return
        self._written_seq = self.last_seq
        self.write_error = None

    def save_cursor(self, extra: Dict[str, Any]) -> None:
        """Record how far the records and the logs (``extra``) were taken. Skipped while records
        wait to be written: the log offsets would then claim points the file lacks."""
        if self._pending:
            self._flush()
            if self._pending:
                return
        # Not fsynced: the cursor is a cache. Lost or torn by a power cut, it only makes the
        # next daemon parse the log again (an older cursor also works: records are cut to it).
        cursor = dict(extra, format=FORMAT, last_seq=self._written_seq, bytes=self._written)
        self._save_summaries()
        if extra.get("finished") and self.last_seq >= metricseal.SEAL_MIN:
            metricseal.seal(self)
        if self._sealed is not None:
            cursor["sealed"] = self._sealed
        try:
            write_json_atomic(os.path.join(self.directory, "cursor.json"), cursor, durable=False)
        except OSError as exc:
            self.write_error = f"{exc.strerror or exc} ({self.directory})"

    def _save_summaries(self) -> None:
        """Summaries of the blocks completed since the last cursor, all series in one file
        (written before the cursor: a summary never covers points the records lack)."""
        grew = False
        for s in self._series:
            before = len(s.summary.mins)
            s.summary.update(s.value)
            grew = grew or len(s.summary.mins) > before
        if grew:
            data = metricsummary.dump([s.summary for s in self._series])
            try:
                write_atomic(os.path.join(self.directory, SUMMARY), data, durable=False)
            except OSError as exc:
                self.write_error = f"{exc.strerror or exc} ({self.directory})"

    def _load_summaries(self) -> None:
        try:
            with open(os.path.join(self.directory, SUMMARY), "rb") as fh:
                kept = metricsummary.load(fh.read(), [len(s) for s in self._series])
        except (OSError, ValueError, struct.error):
            kept = {}
        for k, summary in kept.items():
            self._series[k].summary = summary

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # ----- loading -----------------------------------------------------------------------
    def load(self) -> Optional[Dict[str, Any]]:
        """Read back what a previous daemon kept; its cursor, or None to start from scratch
        (no cursor, an older format, or records that do not add up to it)."""
        try:
            cursor = read_json(os.path.join(self.directory, "cursor.json"))
        except CorruptFile:
            cursor = None
        if isinstance(cursor, dict) and cursor.get("format") == FORMAT:
            try:
                if metricseal.load_sealed(self, cursor):
                    return cursor
            except (OSError, ValueError, TypeError, KeyError, struct.error):
                self._reset_memory()
            try:
                if self._replay(int(cursor.get("bytes", -1)), int(cursor.get("last_seq", -1))):
                    return cursor
            except (OSError, ValueError, TypeError, struct.error):
                pass
        self._reset_files()
        return None

    def _replay(self, size: int, last_seq: int) -> bool:
        path = os.path.join(self.directory, RECORDS)
        with open(path, "rb") as fh:
            data = fh.read(size)
        if len(data) != size:
            return False
        pos, seq = 0, 0
        while pos < size:
            groups, name_bytes, t, first, seq = _HEADER.unpack_from(data, pos)
            pos += _HEADER.size
            if name_bytes:
                for name in json.loads(data[pos : pos + name_bytes].decode("utf-8")):
                    self._add_name(str(name))
                pos += name_bytes
            self._batch_seq.append(first)
            self._batch_t.append(t)
            for _ in range(groups):
                k, keep, count = _GROUP.unpack_from(data, pos)
                pos += _GROUP.size
                if not 0 <= k < len(self.names) or not 0 <= keep <= len(self._series[k]):
                    return False
                s = self._series[k]
                for col in (s.seq, s.step, s.value):
                    del col[keep:]
                    end = pos + count * 8
                    if count < 0 or end > size:
                        return False
                    col.frombytes(data[pos:end])
                    pos = end
        if seq != last_seq:
            return False
        with open(path, "ab") as fh:
            fh.truncate(size)  # drop a tail written after the cursor
        self._load_summaries()
        self.last_seq = self._written_seq = seq
        self._written = size
        return True

    def _intact(self) -> None:
        """Before a read of mapped columns: a columns.bin cut short under us (by hand) would
        fault (SIGBUS, the whole daemon); the points come back from points.bin instead."""
        if self._mapped is not None and metricseal.cut_short(self):
            size, last = self._written, self._written_seq
            self._reset_memory()
            if not self._replay(size, last):
                raise CorruptFile(f"{self.directory}: columns.bin cut short, points.bin differs")

    def _reset_memory(self) -> None:
        self.names, self._index, self._series = [], {}, []
        self._batch_seq, self._batch_t = array("q"), array("d")
        self.last_seq = self._written = self._written_seq = 0
        self._mapped = self._sealed = None

    def _reset_files(self) -> None:
        self._reset_memory()
        for name in os.listdir(self.directory):
            # Also the per-name column files of the first format (seq, step, value).
            if name.split(".")[-1] in ("seq", "step", "value") or name in (
                "names.json",
                "cursor.json",
                "batches.f64",
                RECORDS,
                SUMMARY,
                metricseal.SEALED,
            ):
                os.unlink(os.path.join(self.directory, name))

    # ----- reading -----------------------------------------------------------------------
    def since(self, seq: int, limit: int = 100000) -> Tuple[Dict[str, Any], int]:
        """Points with seq in (seq, seq + limit], as columns per name, and the last seq given.

        ``count`` is how many seqs the answer covers (``last - seq``); a replaced point's seq
        is not sent again, so fewer points may come. Each series gives its slice between two
        bisections, copied out by C-level ``tolist``.
        """
        self._intact()
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
        """Each series downsampled to at most ``points`` points, spikes kept; a long series
        from its per-block summaries (agent/metricsummary.py), not from every point."""
        self._intact()
        series: Dict[str, Any] = {}
        for k, name in enumerate(self.names):
            if names and name not in names:
                continue
            s = self._series[k]
            idx = pick(s.value, s.summary, points)
            series[name] = {
                "count": len(s),
                "step": _step_list(array("q", (s.step[i] for i in idx))),
                "value": _finite_list(array("d", (s.value[i] for i in idx))),
                "t": [self.time_of(s.seq[i]) for i in idx],
                "last": _finite_list(s.value[-1:])[0] if len(s) else None,
            }
        return {"last_seq": self.last_seq, "series": series}
