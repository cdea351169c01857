"""Follow a growing log file by byte offset, the way ``tail -F`` does, but resumable.

Rotation (the path now names a new inode) is seen by comparing inodes: the rest of the old file
is read through the descriptor still open on it, then the new file is read from its start.
Truncation (same inode, smaller than our offset) restarts at 0. The position to resume from is
``(inode, offset)`` where the offset stops before any held-back partial line.
"""

import os
from typing import List, Optional, Tuple

from ..core.lines import LineSplitter

CHUNK = 4 * 1024 * 1024


class LogFollower:
    def __init__(self, path: str, inode: Optional[int] = None, offset: int = 0) -> None:
        self.path = path
        self.inode = inode
        self._fd: Optional[int] = None
        self._splitter = LineSplitter(offset)
        self.rotations = 0
        self.truncations = 0

    @property
    def offset(self) -> int:
        return self._splitter.consumed

    def position(self) -> Tuple[Optional[int], int]:
        return self.inode, self.offset

    def close(self) -> None:
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
            self._splitter = LineSplitter(0)
            self.rotations += 1
        self.inode = inode
        self._fd = fd
        return True

    def read(self, max_bytes: int = CHUNK) -> Tuple[List[str], bool]:
        """New complete lines, and whether more bytes are waiting beyond ``max_bytes``."""
        if self._fd is None and not self._open_current():
            return [], False
        assert self._fd is not None
        lines: List[str] = []
        try:
            st = os.stat(self.path)
        except OSError:
            st = None
        if st is not None and st.st_ino != self.inode:
            # Rotated: drain the old file through our descriptor, then move to the new one.
            lines.extend(self._drain(max_bytes))
            lines.extend(self._splitter.flush())
            self.close()
            self.rotations += 1
            self._splitter = LineSplitter(0)
            self.inode = None
            if not self._open_current():
                return lines, False
            assert self._fd is not None
        size = os.fstat(self._fd).st_size
        read_from = self._splitter.consumed + self._splitter.pending
        if size < read_from:
            lines.extend(self._splitter.flush())
            self._splitter = LineSplitter(0)
            self.truncations += 1
            read_from = 0
        budget = max_bytes - sum(len(x) for x in lines)
        lines.extend(self._read_range(read_from, size, budget))
        more = self._splitter.consumed + self._splitter.pending < size
        return lines, more

    def _drain(self, max_bytes: int) -> List[str]:
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        return self._read_range(
            self._splitter.consumed + self._splitter.pending, size, max(max_bytes, size)
        )

    def _read_range(self, start: int, size: int, budget: int) -> List[str]:
        assert self._fd is not None
        want = min(size - start, max(budget, 0))
        if want <= 0:
            return []
        data = os.pread(self._fd, want, start)
        return self._splitter.feed(data)

    def finish(self) -> List[str]:
        """The last partial line, once the writer is known to be done."""
        return self._splitter.flush()
