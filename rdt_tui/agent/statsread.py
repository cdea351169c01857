"""The rows of the statistics job's datasets, block by block, with as little work as possible.

h5py copies a 3.5 MiB chunk out of the page cache in about 1 ms of CPU here (twice what
``pread`` of the same bytes costs, four times a read-only map of them). A dataset whose bytes
are plain rows in the file (no filter, no external or virtual storage, a native integer or
float type, chunks spanning whole rows, the default ``sec2`` driver, no user block) is
therefore not read through h5py: HDF5 says where each chunk lies, adjacent chunks are taken
as one extent, and a float64 extent is mapped read-only and reduced in place (one map per
block of about ``MAP_BYTES``, gone with the block, so memory stays flat); anything else
of such a dataset is read with ``os.preadv``. The first raw row of each file is checked
against h5py's. Other datasets, and any chunk HDF5 has not allocated (its fill value), go
through h5py. The values are the same bytes either way, so the statistics are identical.
"""

import itertools
import mmap
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

RAW_MIN_BYTES = 1 << 20  # a smaller dataset is one h5py read: the raw path would not pay
# Rows per block, as float64, unless told. One float64 dataset's blocks are mapped where the
# file allows, so a big block costs no buffer, and each block has its own map, summary and
# merge to pay for (1.2 GiB of 7-dim rows in one thread: 3.5 MiB blocks 469 ms, 8 MiB 433,
# 16 MiB 409). Anything else is read into a buffer of READ_BYTES (and temporaries as big):
# 16 MiB there would take 106 MiB of memory instead of 73 for two keys.
MAP_BYTES = 16 << 20
READ_BYTES = 4 << 20


class StatsError(Exception):
    pass


class Episode:
    """One match of the keys in one file: its datasets and where they came from."""

    def __init__(self, path: str, parts: Tuple[str, ...], datasets: List[Any]) -> None:
        self.path, self.parts, self.datasets = path, parts, datasets


def walk(group: Any, parts: List[str], prefix: str = "") -> Iterator[str]:
    """The path of each member of ``group`` matching ``parts`` (``*`` matches every member
    at that level), in order. The names up to the next ``*`` are one lookup, and a group is
    looked up once, not asked for first (h5py: ~30 us each, a first time); a dataset at a
    ``*`` level with names below it holds no match. ``blocks`` lists a file's paths before
    it reads any, and opens each dataset again: walking between reads took 15% longer on
    2,000 small episodes, and reading through the datasets opened here kept 14 MiB more
    memory for two keys (measured, not explained)."""
    if not parts:
        yield prefix
        return
    head = parts.index("*") if "*" in parts else len(parts)
    names = ["/".join(parts[:head])] if head else sorted(group.keys())
    rest = parts[head:] if head else parts[1:]
    for name in names:
        path = prefix + "/" + name if prefix else name
        if not rest:
            if name in group:  # cheaper than opening it (a dangling link: see ``blocks``)
                yield path
            continue
        member = group.get(name)  # None when missing or through a dataset
        if member is not None and hasattr(member, "keys"):
            yield from walk(member, rest, path)


def matches(group: Any, parts: List[str]) -> List[str]:
    """The paths ``walk`` finds."""
    return list(walk(group, parts))


def aligned_step(d: Any, chunk_rows: int) -> int:
    """Rows per read: whole HDF5 chunks (a partial chunk of a compressed dataset would be
    decompressed again for every read), about ``chunk_rows`` of them."""
    along = (getattr(d, "chunks", None) or (0,))[0]
    if not along or chunk_rows < along:
        return max(1, chunk_rows)
    return chunk_rows // along * along


class _Raw:
    """Where a plain dataset's rows lie in its file: one extent (contiguous) or one per chunk."""

    def __init__(self, d: Any, dtype: Any, offset: Optional[int], size: int, np: Any) -> None:
        self.d, self.dtype, self.offset, self.size = d, dtype, offset, size
        self.row = int(np.prod(d.shape[1:], dtype=np.int64)) * dtype.itemsize
        self.along = d.chunks[0] if d.chunks else 0

    def extents(self, r0: int, r1: int) -> Optional[List[Tuple[int, int, int]]]:
        """(file offset, byte offset in the block, bytes) covering rows r0..r1, or None when
        a chunk is not allocated or lies outside the file."""
        if not self.along:
            assert self.offset is not None
            out = [(self.offset + r0 * self.row, 0, (r1 - r0) * self.row)]
        else:
            out = []
            for c0 in range(r0 - r0 % self.along, r1, self.along):
                info = self.d.id.get_chunk_info_by_coord((c0,) + (0,) * (len(self.d.shape) - 1))
                if info.byte_offset is None or info.filter_mask:
                    return None
                lo, hi = max(r0, c0), min(r1, c0 + self.along)
                at = info.byte_offset + (lo - c0) * self.row
                out.append((at, (lo - r0) * self.row, (hi - lo) * self.row))
        if any(at < 0 or at + n > self.size for at, _, n in out):
            return None
        return out


def _plain_file(fh: Any) -> bool:
    """Whether the file's bytes are where HDF5 says: the default driver, no user block."""
    try:
        return bool(fh.driver == "sec2" and not fh.userblock_size)
    except (AttributeError, TypeError, ValueError, OSError):
        return False


def _raw(d: Any, size: int, np: Any) -> Optional[_Raw]:
    """The raw reader of ``d`` (in a plain file, see ``_plain_file``), or None when its bytes
    are not plain rows in the file."""
    import h5py

    try:
        dtype = d.dtype  # h5py builds it anew at every access
        if dtype.kind not in "fiu":
            return None
        if not dtype.isnative or d.size * dtype.itemsize < RAW_MIN_BYTES:
            return None
        dcpl = d.id.get_create_plist()
        if dcpl.get_nfilters() or dcpl.get_external_count():
            return None
        layout = dcpl.get_layout()
        if layout == h5py.h5d.CONTIGUOUS:
            offset = d.id.get_offset()
            return None if offset is None else _Raw(d, dtype, offset, size, np)
        whole_rows = layout == h5py.h5d.CHUNKED and tuple(d.chunks[1:]) == tuple(d.shape[1:])
        if whole_rows and hasattr(d.id, "get_chunk_info_by_coord"):  # HDF5 1.10.5 and later
            return _Raw(d, dtype, None, size, np)
    except (AttributeError, TypeError, ValueError, OSError):
        pass
    return None


def read_rows(
    datasets: List[Any], widths: List[int], r0: int, r1: int, np: Any, buffers: Dict[Any, Any]
) -> Any:
    """Rows r0..r1 of the concatenated datasets (each ``widths`` wide) as float64 (rows x
    dims) through h5py, in a buffer reused from block to block."""
    buf = reuse(buffers, 0, r1 - r0, sum(widths), np)
    d = datasets[0]
    if len(datasets) == 1 and d.dtype.kind == "f":
        d.read_direct(buf.reshape((r1 - r0, *d.shape[1:])), np.s_[r0:r1])
        return buf
    col = 0
    for d, width in zip(datasets, widths):
        buf[:, col : col + width] = np.asarray(d[r0:r1], dtype=np.float64).reshape(r1 - r0, -1)
        col += width
    return buf


def reuse(buffers: Dict[Any, Any], which: Any, rows: int, width: int, np: Any) -> Any:
    """``rows`` x ``width`` float64 from the buffer named ``which``, kept from block to block
    (grown when too small): no fresh pages to fault in per block."""
    buf = buffers.get(which)
    if buf is None or buf.shape[1] != width or buf.shape[0] < rows:
        buf = buffers[which] = np.empty((rows, width))
    return buf[:rows]


def _pread(fd: int, extents: List[Tuple[int, int, int]], into: Any, np: Any, dtype: Any) -> Any:
    """Read the extents into ``into`` (float64 rows); another type goes through a staging
    array and one cast."""
    staged = into if dtype == into.dtype else np.empty(into.size, dtype)
    view = memoryview(staged.reshape(-1).view(np.uint8))
    for at, start, n in extents:
        done = 0
        while done < n:
            got = os.preadv(fd, [view[start + done : start + n]], at + done)
            if got <= 0:
                raise OSError(f"the file ended {n - done} bytes early (changed while read?)")
            done += got
    if staged is not into:
        np.copyto(into.reshape(-1), staged)
    return into


def _mapped(fd: int, at: int, rows: int, width: int, np: Any) -> Any:
    """Rows of float64 straight from the page cache: a read-only map of just this block
    (unmapped when the last view of it goes, so memory stays flat), no copy at all."""
    base = at - at % mmap.ALLOCATIONGRANULARITY
    if os.fstat(fd).st_size < at + rows * width * 8:  # shrunk since: a map would fault
        raise OSError("the file shrank while it was read")
    m = mmap.mmap(fd, at - base + rows * width * 8, access=mmap.ACCESS_READ, offset=base)
    return np.frombuffer(m, np.float64, rows * width, at - base).reshape(rows, width)


def _release(x: Any) -> None:
    """A mapped block's pages out of this process's memory once the block is done (they stay
    in the page cache). A view that another thread still holds maps them again as it reads,
    correctly; without this, such a view would keep the whole block counted until it goes."""
    base = x
    while getattr(base, "base", None) is not None:
        base = base.base
    m = getattr(base, "obj", None)  # the exporter of the memoryview under np.frombuffer
    if isinstance(m, mmap.mmap) and hasattr(m, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        try:
            m.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):
            pass  # closed already: gone from memory anyway


def _merged(extents: List[Tuple[int, int, int]]) -> List[Tuple[int, int, int]]:
    """Adjacent extents as one (chunks written in order lie end to end)."""
    out = [extents[0]]
    for at, start, n in extents[1:]:
        at0, start0, n0 = out[-1]
        if at0 + n0 == at and start0 + n0 == start:
            out[-1] = (at0, start0, n0 + n)
        else:
            out.append((at, start, n))
    return out


def blocks(
    files: List[str], keys: List[str], chunk_rows: int, np: Any, counts: Dict[str, int]
) -> Iterator[Tuple[Episode, int, Any]]:
    """(episode, first row, rows as float64) for every block of every episode, in order.
    ``counts["episodes"]`` counts the episodes, empty ones included. A block is valid until
    the next one is asked for. Blocks are ``chunk_rows`` rows, or (0) about ``MAP_BYTES`` of
    float64 rows for one float64 dataset and ``READ_BYTES`` for anything else (the same
    whether the rows are mapped or read through h5py, so both sum alike), in whole HDF5
    chunks either way."""
    import h5py

    buffers: Dict[Any, Any] = {}
    for path in files:
        checked = False
        try:
            fh = h5py.File(path, "r")
        except OSError as exc:
            raise StatsError(f"{path} is not a readable HDF5 file: {exc}") from None
        fd: Optional[int] = None
        try:
            plain, size = _plain_file(fh), os.path.getsize(path)
            per_key = [matches(fh, k.strip("/").split("/")) for k in keys]
            for matched, found in enumerate(itertools.zip_longest(*per_key)):
                if any(f is None for f in found):  # a key matched fewer (or no) episodes
                    for k, f in zip(keys, found):
                        if f is None and not matched:
                            raise StatsError(f"{path} has no dataset {k}")
                    raise StatsError(f"{path}: the keys match different numbers of episodes")
                parts = tuple(found)
                try:
                    datasets = [fh[p] for p in parts]
                except KeyError as exc:  # named, but nothing there: a dangling link
                    raise StatsError(f"{path}: cannot open {', '.join(parts)}: {exc}") from None
                shapes: List[Tuple[int, ...]] = []  # h5py builds a shape anew at each access
                for p, d in zip(parts, datasets):
                    shape = getattr(d, "shape", None)
                    if shape is None:
                        raise StatsError(f"{path}: {p} is a group, not a dataset")
                    if not shape:
                        raise StatsError(f"{path}: {p} is a single value, not rows")
                    shapes.append(shape)
                rows = shapes[0][0]
                if any(shape[0] != rows for shape in shapes):
                    raise StatsError("{}: {} differ in length".format(path, ", ".join(parts)))
                counts["episodes"] += 1
                ep = Episode(path, parts, datasets)
                widths = [int(np.prod(shape[1:], dtype=np.int64)) for shape in shapes]
                width = sum(widths)
                one_f8 = len(datasets) == 1 and datasets[0].dtype == np.float64
                budget = MAP_BYTES if one_f8 else READ_BYTES
                step = aligned_step(datasets[0], chunk_rows or budget // (8 * max(1, width)))
                raw = None
                if len(datasets) == 1 and plain:
                    raw = _raw(datasets[0], size, np)
                for r0 in range(0, rows, step):
                    r1 = min(rows, r0 + step)
                    extents = raw.extents(r0, r1) if raw is not None else None
                    try:
                        if raw is None or extents is None:
                            x = read_rows(datasets, widths, r0, r1, np, buffers)
                        else:
                            if fd is None:
                                fd = os.open(path, os.O_RDONLY)
                            x = _raw_rows(fd, raw, _merged(extents), r1 - r0, np, buffers)
                            if not checked:  # once a file: h5py's row costs a chunk read
                                _check_first_row(ep, r0, x, np)
                                checked = True
                    except (OSError, ValueError, TypeError) as exc:
                        raise StatsError(f"{path}: cannot read {parts}: {exc}") from None
                    yield ep, r0, x
                    _release(x)
                    x = None  # the map goes with its last view
        finally:
            if fd is not None:
                os.close(fd)
            fh.close()


def _raw_rows(
    fd: int, raw: _Raw, extents: List[Tuple[int, int, int]], rows: int, np: Any, buffers: Any
) -> Any:
    width = raw.row // raw.dtype.itemsize
    at = extents[0][0]
    if len(extents) == 1 and raw.dtype == np.float64 and at % 8 == 0:
        return _mapped(fd, at, rows, width, np)
    return _pread(fd, extents, reuse(buffers, 1, rows, width, np), np, raw.dtype)


def _check_first_row(ep: Episode, r0: int, x: Any, np: Any) -> None:
    """The raw bytes must be h5py's values: a wrong offset or layout would be a silent error
    in every statistic, so the block's first row is compared (a bug if it differs)."""
    want = np.asarray(ep.datasets[0][r0 : r0 + 1], dtype=np.float64).reshape(-1)
    if want.tobytes() != x[0].tobytes():
        raise StatsError(f"{ep.path}: {ep.parts[0]} read raw is not what h5py reads (a bug)")
