"""A finished run's points as one file of contiguous columns, mapped instead of loaded.

``points.bin`` is a log of batches: replaying it means reading every byte and holding every
column in memory, 240 MiB for a run of 10 million points, before its first history answer.
Once a run has finished (and holds at least ``SEAL_MIN`` points), the store writes its columns
once more, each series' seq, step and value columns one after the other, then the batches'
first seqs and times, to ``columns.bin`` (atomically), and the cursor names it. A restarted
daemon maps that file and reads the columns through ``memoryview`` s: nothing is read until a
client asks, and what it asks for (a history served from the saved block summaries, the points
after a seq) touches a few pages. Resident memory stays flat whatever the run holds; the pages
it read belong to the page cache, which the kernel takes back.

``points.bin`` stays as it is: it remains the truth, and a sealed store that is appended to
again (a finished run whose logs grew) goes back to arrays in memory and to replaying it.
"""

import mmap
import os
from array import array
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .metricstate import StoreState

SEALED = "columns.bin"
SEAL_MIN = 1_000_000

Columns = Tuple[Any, Any, Any]  # seq, step, value: arrays, or memoryviews of the mapped file


def write(directory: str, columns: Sequence[Columns], batch_seq: array, batch_t: array) -> int:
    """Write ``columns.bin``; its size."""
    path = os.path.join(directory, SEALED)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
    with os.fdopen(fd, "wb") as fh:
        for cols in columns:
            for col in cols:
                col.tofile(fh)  # in 64 KiB pieces: no second copy of a column in memory
        batch_seq.tofile(fh)
        batch_t.tofile(fh)
    os.replace(tmp, path)
    return os.path.getsize(path)


def open_mapped(
    directory: str, counts: List[int], batches: int, size: int
) -> Optional[Tuple[mmap.mmap, List[Columns], Any, Any]]:
    """The mapped file and its columns, or None when it is not the file the cursor names."""
    want = (sum(counts) * 3 + batches * 2) * 8
    if want != size:
        return None
    try:
        with open(os.path.join(directory, SEALED), "rb") as fh:
            if os.fstat(fh.fileno()).st_size != size:
                return None
            if size == 0:
                return None
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    view = memoryview(mapped)
    pos = 0

    def take(n: int, floats: bool = False) -> Any:
        nonlocal pos
        part = view[pos : pos + n * 8]
        pos += n * 8
        return part.cast("d") if floats else part.cast("q")

    columns = [(take(n), take(n), take(n, True)) for n in counts]
    return mapped, columns, take(batches), take(batches, True)


def cut_short(store: StoreState) -> bool:
    """Whether the mapped columns.bin is now shorter than what the store maps (one fstat of
    the map's own descriptor): a page past its end would fault (SIGBUS) when read."""
    try:
        sealed = store._sealed or {}
        return store._mapped is not None and store._mapped.size() < int(sealed["bytes"])
    except (OSError, ValueError, KeyError, TypeError):
        return True


def info(names: List[str], counts: List[int], batches: int, size: int) -> Dict[str, Any]:
    """What the cursor keeps of the sealed file."""
    return {"names": names, "counts": counts, "batches": batches, "bytes": size}


def seal(store: StoreState) -> None:
    """Write columns.bin once for a finished run (not again at each daemon start)."""
    if store._sealed is not None and store._sealed.get("last_seq") == store.last_seq:
        return
    columns = [(s.seq, s.step, s.value) for s in store._series]
    try:
        size = write(store.directory, columns, store._batch_seq, store._batch_t)
    except OSError as exc:
        store.write_error = f"{exc.strerror or exc} ({store.directory})"
        return
    counts = [len(s) for s in store._series]
    store._sealed = info(list(store.names), counts, len(store._batch_seq), size)
    store._sealed["last_seq"] = store.last_seq


def unseal(store: StoreState) -> None:
    def back(kind: str, col: Any) -> array:
        out = array(kind)
        out.frombytes(col.cast("B") if isinstance(col, memoryview) else col)
        return out

    for s in store._series:
        s.seq, s.step, s.value = back("q", s.seq), back("q", s.step), back("d", s.value)
    store._batch_seq, store._batch_t = back("q", store._batch_seq), back("d", store._batch_t)
    store._mapped = store._sealed = None  # the map closes with its last view


def load_sealed(store: StoreState, cursor: Dict[str, Any]) -> bool:
    sealed = cursor.get("sealed")
    if not isinstance(sealed, dict) or sealed.get("last_seq") != cursor.get("last_seq"):
        return False
    names, counts = sealed.get("names"), sealed.get("counts")
    if not isinstance(names, list) or not isinstance(counts, list) or len(names) != len(counts):
        return False
    got = open_mapped(
        store.directory, [int(c) for c in counts], int(sealed["batches"]), int(sealed["bytes"])
    )
    if got is None:
        return False
    store._mapped, columns, store._batch_seq, store._batch_t = got
    for name, (seq, step, value) in zip(names, columns):
        s = store._series[store._add_name(str(name))]
        s.seq, s.step, s.value = seq, step, value
    store.last_seq = store._written_seq = int(cursor["last_seq"])
    store._written = int(cursor["bytes"])
    store._sealed = sealed
    store._load_summaries()
    return True
