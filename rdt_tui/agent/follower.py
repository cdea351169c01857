"""Follow a growing log file by byte offset, the way ``tail -F`` does, but resumable.

Rotation (the path now names a new inode) is seen by comparing inodes: the rest of the old file
is read through the descriptor still open on it, then the new file is read from its start.
Truncation (same inode, smaller than our offset) restarts at 0, and so does a file truncated
and written again past our offset between two reads (logrotate's copytruncate under a fast
writer): the last bytes we read are kept and must still be where we read them. The position
to resume from is ``(inode, offset)`` where the offset stops before any held-back partial
line. A line longer
than ``MAX_LINE`` bytes is cut (with a marker), so memory stays flat whatever the job prints.

:func:`read_chunk` and :func:`tail_lines` read ``output.log`` for clients (a subscription's
log events, ``logs``, ``logs --tail``, the alert engine's gap): this module is the node's one
reader of it, with one rule for where a line ends (``core.lines.whole_lines_end``, a line cut
at ``MAX_LINE``), so a client's chunk ends where the watcher's lines do. Every read from the
daemon runs in a worker thread, never on its event loop; :func:`chunk_from_last_read` reads
nothing (a subscription sends the bytes the watcher's poll just read, without a second read).
"""

import os
from typing import Any, Dict, List, Optional, Tuple

from ..core.lines import CUT_MARK, LineSplitter, whole_lines_end
from ..core.logtext import LogText

CHUNK = 4 * 1024 * 1024
MAX_LINE = 256 * 1024
FINGERPRINT = 64
KEEP_READ = 1024 * 1024  # a read up to this size is kept for the subscriptions (last_read)


class LogFollower:
    def __init__(
        self, path: str, inode: Optional[int] = None, offset: int = 0, keep_reads: bool = False
    ) -> None:
        self.path = path
        self.keep_reads = keep_reads  # output.log's: its subscriptions send from last_read
        self.inode = inode
        self._fd: Optional[int] = None
        self._splitter = LineSplitter(offset, MAX_LINE)
        self._print = b""  # the last bytes read, which end at the read position
        self.rotations = 0
        self.truncations = 0
        # (inode, offset, bytes) of the last read when it was small: a subscription sends
        # the run's new lines from it (chunk_from_last_read) instead of reading them again.
        self.last_read: Tuple[Optional[int], int, bytes] = (None, 0, b"")

    @property
    def offset(self) -> int:
        return self._splitter.consumed

    @property
    def read_to(self) -> int:
        """Where the next read starts: the bytes taken so far, a partial line included."""
        return self._splitter.consumed + self._splitter.pending

    def position(self) -> Tuple[Optional[int], int]:
        return self.inode, self.offset

    def _restart(self) -> None:
        """Read the file from its start again (it was truncated, or is another file now):
        nothing of the old one is kept, not even for the subscriptions."""
        self._splitter = LineSplitter(0, MAX_LINE)
        self._print = b""
        self.last_read = (None, 0, b"")

    def close(self) -> None:
        self.last_read = (None, 0, b"")
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open_current(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False
        inode = os.fstat(fd).st_ino
        if self.inode is not None and inode != self.inode:
            # Not the file we were reading (rotated while nobody followed): start it fresh.
            self._restart()
            self.rotations += 1
        self.inode = inode
        self._fd = fd
        return True

    def read(self, max_bytes: int = CHUNK) -> Tuple[List[str], bool]:
        """New complete lines, and whether more bytes are waiting beyond ``max_bytes``."""
        text, more = self.read_text(max_bytes)
        return text.lines(), more

    def read_text(self, max_bytes: int = CHUNK) -> Tuple[LogText, bool]:
        """``read`` as a :class:`LogText`: the lines left as the bytes they came in (the
        watcher's parser finds bars in them undecoded)."""
        lines = LogText(MAX_LINE)
        if self._fd is None and not self._open_current():
            return lines, False
        assert self._fd is not None
        try:
            st = os.stat(self.path)
        except OSError:
            st = None
        if st is not None and st.st_ino != self.inode:
            # Rotated: drain the old file through our descriptor, then move to the new one.
            lines.extend(self._drain(max_bytes))
            lines.add_lines(self._splitter.flush())
            self.close()
            self.rotations += 1
            self._restart()
            self.inode = None
            if not self._open_current():
                return lines, False
            assert self._fd is not None
        size = os.fstat(self._fd).st_size
        read_from = self.read_to
        if size < read_from or self._rewritten(read_from):
            # Truncated under a writer that goes on (copytruncate): a partial line held back
            # is the start of a line torn in two, not a line; its point would be wrong.
            self._restart()
            self.truncations += 1
            read_from = 0
        budget = max_bytes - lines.size()
        lines.extend(self._read_range(read_from, size, budget))
        more = self.read_to < size
        return lines, more

    def _drain(self, max_bytes: int) -> LogText:
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        return self._read_range(self.read_to, size, max(max_bytes, size))

    def _read_range(self, start: int, size: int, budget: int) -> LogText:
        assert self._fd is not None
        want = min(size - start, max(budget, 0))
        if want <= 0:
            return LogText(MAX_LINE)
        data = os.pread(self._fd, want, start)
        # One assignment of a tuple: a reader on another thread sees the old or the new one.
        kept = self.keep_reads and len(data) <= KEEP_READ
        self.last_read = (self.inode, start, data) if kept else (None, 0, b"")
        self._print = (self._print + data[-FINGERPRINT:])[-FINGERPRINT:]
        return self._splitter.feed_text(data)

    def _rewritten(self, read_from: int) -> bool:
        """Whether the bytes before ``read_from`` are no longer those we read there."""
        n = len(self._print)
        if not n or read_from < n:
            return False
        assert self._fd is not None
        return os.pread(self._fd, n, read_from - n) != self._print

    def finish(self) -> List[str]:
        """The last partial line, once the writer is known to be done."""
        return self._splitter.flush()


def read_chunk(path: str, offset: int, limit: int, final: bool = False) -> Tuple[str, int, int]:
    """``(text, start, end)``: whole lines from ``offset``, at most ``limit`` bytes.

    ``start`` is ``offset``, or 0 when the file is now shorter than ``offset`` (truncated in
    place, as logrotate's copytruncate does): reading goes on from its start. Lines end where
    :class:`LogFollower`'s do (``core.lines.whole_lines_end``): a trailing partial line is held
    back (it may be a UTF-8 character cut in two) unless the run has ended (``final``), and
    a ``\\r\\n`` is never cut in two (its ``\\n`` may make the chunk one byte over ``limit``).
    One line longer than ``limit``, or than ``MAX_LINE`` (where the follower cuts it), comes in
    pieces, each ended on a UTF-8 character boundary where one is near.
    """
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size < offset:
                offset = 0
            data = os.pread(fh.fileno(), limit + 1, offset)  # one byte more: a CRLF's \n
    except FileNotFoundError:
        return "", offset, offset
    return _whole_lines(data, offset, limit, final)


def chunk_from_last_read(
    follower: LogFollower, inode: Optional[int], offset: int, limit: int
) -> Optional[Tuple[str, int, int]]:
    """:func:`read_chunk` of a live run's log (not ``final``) from what ``follower`` read last,
    when that read was of ``inode`` and holds ``offset``; else None (read the file). The
    chunk ends where that read did, as a read_chunk at that moment would have: the rest
    comes with the next read."""
    read_inode, start, data = follower.last_read
    if inode is None or read_inode != inode or not start <= offset < start + len(data):
        return None
    at = offset - start
    return _whole_lines(data[at : at + limit + 1], offset, limit, False)


def _whole_lines(data: bytes, offset: int, limit: int, final: bool) -> Tuple[str, int, int]:
    """read_chunk's answer from the ``limit + 1`` bytes (or fewer: the file's end) read at
    ``offset``."""
    data, beyond = data[:limit], data[limit:]
    if final and not beyond:
        end = len(data)  # the writer is done: its last partial line is a line
    else:
        end = whole_lines_end(data)
        if end and end == len(data) and beyond == b"\n" and data.endswith(b"\r"):
            data, end = data + beyond, end + 1
        elif not end and (len(data) == limit or len(data) > MAX_LINE):
            end = _char_boundary(data)
    return data[:end].decode("utf-8", "replace"), offset, offset + end


def _char_boundary(data: bytes) -> int:
    """``len(data)``, less the start of a UTF-8 character that ``data`` ends in the middle of."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a character's first byte: how long is it?
            size = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4
            if byte < 0x80 or size <= back or back == len(data):
                return len(data)
            return len(data) - back
    return len(data)


def tail_lines(path: str, lines: int, max_line: int = MAX_LINE) -> Dict[str, Any]:
    """The last ``lines`` lines of ``path`` and its size (the offset to follow from).

    Reads back block by block, counting terminators once per block, and never more than
    ``lines + 1`` lines of ``max_line`` bytes: linear whatever the file holds, a 100 MB line
    without a newline included (it comes out cut, with a marker)."""
    try:
        with open(path, "rb") as fh:
            end = os.fstat(fh.fileno()).st_size
            blocks: List[bytes] = []
            pos, seen, budget = end, 0, (lines + 1) * max_line
            while pos > 0 and seen <= lines and end - pos < budget:
                step = min(65536, pos)
                pos -= step
                block = os.pread(fh.fileno(), step, pos)
                blocks.append(block)
                seen += block.count(b"\n") + block.count(b"\r")
    except FileNotFoundError:
        return {"lines": [], "end": 0}
    data = b"".join(reversed(blocks))
    if not lines:
        return {"lines": [], "end": end}
    splitter = LineSplitter(0, max_line)
    # A cut first line (we started reading in its middle) says so: mark it as cut too.
    out = splitter.feed(data) + splitter.flush()
    if pos > 0 and out and end - pos >= budget:
        out[0] = CUT_MARK.strip() + " " + out[0]
    return {"lines": out[-lines:], "end": end}
