"""This machine's end of a copy: part files opened without following links, only when they
are ours and the same file throughout (see transfer.py for the rules both ends keep)."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import AsyncIterator, Callable

from .transfer import CHUNK, PART, Side, not_ours, refused_link


class LocalSide(Side):
    def __init__(self) -> None:
        # Part files this copy opened: (st_dev, st_ino), so a swap is noticed before a rename.
        self._parts: dict[str, tuple[int, int]] = {}

    async def size(self, path: str) -> int | None:
        try:
            return os.stat(path).st_size
        except FileNotFoundError:
            return None

    async def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    async def walk(self, path: str) -> list[tuple[str, int]]:
        out = []
        for dirpath, _dirs, files in os.walk(path):
            for name in sorted(files):
                full = os.path.join(dirpath, name)
                if name.endswith(PART) or not os.path.isfile(full):
                    continue
                out.append((os.path.relpath(full, path), os.path.getsize(full)))
        return sorted(out)

    async def read(self, path: str, offset: int) -> AsyncIterator[bytes]:
        with open(path, "rb") as fh:
            fh.seek(offset)
            while data := fh.read(CHUNK):
                yield data

    async def read_part(self, path: str) -> AsyncIterator[bytes]:
        fd = self._open_part(path, os.O_RDONLY)
        with os.fdopen(fd, "rb") as fh:
            while data := fh.read(CHUNK):
                yield data

    async def append(
        self, path: str, chunks: AsyncIterator[bytes], on_chunk: Callable[[int], None]
    ) -> None:
        fd = self._open_part(path, os.O_WRONLY | os.O_APPEND)
        with os.fdopen(fd, "ab") as fh:
            async for data in chunks:
                fh.write(data)
                on_chunk(len(data))
            fh.flush()
            os.fsync(fh.fileno())

    def _open_part(self, path: str, flags: int) -> int:
        """A part file opened without following a link: created here (O_EXCL, 0600), or one
        that is a regular file of ours and the same one this copy saw before."""
        flags |= os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            if flags & os.O_WRONLY:
                try:
                    fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
                    st = os.fstat(fd)
                    self._parts[path] = (st.st_dev, st.st_ino)
                    return fd
                except FileExistsError:
                    pass
            fd = os.open(path, flags)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise refused_link(path) from None
            raise
        st = os.fstat(fd)
        ident = (st.st_dev, st.st_ino)
        seen = self._parts.setdefault(path, ident)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or seen != ident:
            os.close(fd)
            raise not_ours(path)
        return fd

    async def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    async def rename(self, src: str, dst: str) -> None:
        if src in self._parts:
            # Still the file this copy wrote and hashed, not one swapped in meanwhile.
            st = os.lstat(src)
            if self._parts.pop(src) != (st.st_dev, st.st_ino):
                raise not_ours(src)
        os.replace(src, dst)

    async def lstat(self, path: str) -> tuple[int, int | None] | None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        return st.st_mode, st.st_uid

    async def uid(self) -> int:
        return os.getuid()

    async def remove(self, path: str) -> None:
        self._parts.pop(path, None)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    async def sha256(self, paths: list[str]) -> dict[str, str]:
        out = {}
        for p in paths:
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            out[p] = h.hexdigest()
        return out
