"""Copy files and directories between this machine and a node: resumable, hash-checked.

Each file goes to ``<dest>.rdt-part`` first and is renamed into place once whole, so a
destination is never half-written. An interrupted copy leaves its part file, and the next
run continues from its size. At the end the SHA-256 of both sides must match (on a mismatch
the file is copied once more from zero). A destination that exists and differs is kept
unless ``force`` is given.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import json
import os
import posixpath
import shlex
import stat
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncssh

from .base import TransportError

CHUNK = 8 * 1024 * 1024
# SFTP requests in flight: OpenSSH's sftp-server serves reads of up to 256 KiB.
BLOCK = 64 * 1024
REQUESTS = 64
PART = ".rdt-part"

HASH_CODE = (
    "import hashlib, json, sys\n"
    "out = {}\n"
    "for p in sys.argv[1:]:\n"
    "    h = hashlib.sha256()\n"
    "    with open(p, 'rb') as f:\n"
    "        for b in iter(lambda: f.read(1 << 20), b''):\n"
    "            h.update(b)\n"
    "    out[p] = h.hexdigest()\n"
    "print(json.dumps(out))\n"
)


class TransferError(TransportError):
    title = "Transfer failed"


@dataclass
class Progress:
    total: int = 0
    done: int = 0
    resumed_bytes: int = 0
    files: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return (self.done - self.resumed_bytes) / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else None


class Side(abc.ABC):
    """One end of a copy: this machine's filesystem or the node's over SFTP."""

    sep = "/"

    @abc.abstractmethod
    async def size(self, path: str) -> int | None: ...

    @abc.abstractmethod
    async def is_dir(self, path: str) -> bool: ...

    @abc.abstractmethod
    async def walk(self, path: str) -> list[tuple[str, int]]:
        """(path relative to ``path``, size) of every regular file under a directory."""

    @abc.abstractmethod
    def read(self, path: str, offset: int) -> AsyncIterator[bytes]: ...

    @abc.abstractmethod
    async def append(
        self, path: str, chunks: AsyncIterator[bytes], on_chunk: Callable[[int], None]
    ) -> None: ...

    @abc.abstractmethod
    async def makedirs(self, path: str) -> None: ...

    @abc.abstractmethod
    async def rename(self, src: str, dst: str) -> None: ...

    @abc.abstractmethod
    async def remove(self, path: str) -> None: ...

    @abc.abstractmethod
    async def sha256(self, paths: list[str]) -> dict[str, str]: ...

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)


class LocalSide(Side):
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

    async def append(
        self, path: str, chunks: AsyncIterator[bytes], on_chunk: Callable[[int], None]
    ) -> None:
        with open(path, "ab") as fh:
            async for data in chunks:
                fh.write(data)
                on_chunk(len(data))
            fh.flush()
            os.fsync(fh.fileno())

    async def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    async def rename(self, src: str, dst: str) -> None:
        os.replace(src, dst)

    async def remove(self, path: str) -> None:
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


class SftpSide(Side):
    """The node, over SFTP on the host's connection; hashes computed by the node's Python."""

    def __init__(
        self, conn: asyncssh.SSHClientConnection, sftp: asyncssh.SFTPClient, python: str
    ) -> None:
        self.conn = conn
        self.sftp = sftp
        self.python = python

    async def size(self, path: str) -> int | None:
        try:
            return int((await self.sftp.stat(path)).size or 0)
        except asyncssh.SFTPNoSuchFile:
            return None

    async def is_dir(self, path: str) -> bool:
        try:
            return await self.sftp.isdir(path)
        except asyncssh.SFTPError:
            return False

    async def walk(self, path: str) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        stack = [""]
        while stack:
            rel = stack.pop()
            for entry in await self.sftp.readdir(posixpath.join(path, rel) if rel else path):
                name = str(entry.filename)
                if name in (".", "..") or name.endswith(PART):
                    continue
                child = posixpath.join(rel, name) if rel else name
                mode = entry.attrs.permissions or 0
                if stat.S_ISDIR(mode):
                    stack.append(child)
                elif stat.S_ISREG(mode):
                    out.append((child, int(entry.attrs.size or 0)))
        return sorted(out)

    async def read(self, path: str, offset: int) -> AsyncIterator[bytes]:
        async with self.sftp.open(
            path, "rb", encoding=None, block_size=BLOCK, max_requests=REQUESTS
        ) as fh:
            while data := await fh.read(CHUNK, offset):
                offset += len(data)
                yield data if isinstance(data, bytes) else data.encode()

    async def append(
        self, path: str, chunks: AsyncIterator[bytes], on_chunk: Callable[[int], None]
    ) -> None:
        async with self.sftp.open(
            path, "ab", encoding=None, block_size=BLOCK, max_requests=REQUESTS
        ) as fh:
            async for data in chunks:
                await fh.write(data)
                on_chunk(len(data))

    async def makedirs(self, path: str) -> None:
        await self.sftp.makedirs(path, exist_ok=True)

    async def rename(self, src: str, dst: str) -> None:
        await self.sftp.posix_rename(src, dst)

    async def remove(self, path: str) -> None:
        try:
            await self.sftp.remove(path)
        except asyncssh.SFTPNoSuchFile:
            pass

    async def sha256(self, paths: list[str]) -> dict[str, str]:
        result = await self.conn.run(
            shlex.join([self.python, "-c", HASH_CODE, *paths]), check=False
        )
        if result.exit_status != 0:
            raise TransferError(f"hashing on the node failed: {str(result.stderr)[-300:]}")
        return dict(json.loads(str(result.stdout)))


def remote_path(path: str) -> str:
    """SFTP paths start in the home directory and know no ``~``."""
    if path == "~":
        return "."
    return path[2:] if path.startswith("~/") else path


async def copy_tree(
    src: Side,
    src_path: str,
    dst: Side,
    dst_path: str,
    force: bool,
    progress: Progress,
    report: Callable[[Progress], None],
) -> Progress:
    """Copy a file or a directory tree from ``src`` to ``dst``."""
    if await src.is_dir(src_path):
        files = await src.walk(src_path)
        pairs = [(src.join(src_path, rel), dst.join(dst_path, rel), size) for rel, size in files]
    else:
        size = await src.size(src_path)
        if size is None:
            raise TransferError(f"{src_path} does not exist")
        if await dst.is_dir(dst_path):
            dst_path = dst.join(dst_path, posixpath.basename(src_path.rstrip("/")))
        pairs = [(src_path, dst_path, size)]
    progress.total = sum(size for _, _, size in pairs)
    # The source hashes while the bytes flow: the check at the end costs no extra pass.
    hashing = asyncio.get_running_loop().create_task(
        src.sha256([s for s, _, _ in pairs]) if pairs else _none()
    )
    try:
        for s, d, size in pairs:
            await copy_file(src, s, dst, d, size, hashing, force, progress, report)
    finally:
        if not hashing.done():
            hashing.cancel()
    return progress


async def _none() -> dict[str, str]:
    return {}


async def copy_file(
    src: Side,
    s: str,
    dst: Side,
    d: str,
    size: int,
    hashing: asyncio.Future[dict[str, str]],
    force: bool,
    progress: Progress,
    report: Callable[[Progress], None],
) -> None:
    existing = await dst.size(d)
    if existing is not None:
        digest = (await asyncio.shield(hashing))[s]
        if existing == size and (await dst.sha256([d]))[d] == digest:
            progress.done += size
            progress.skipped += 1
            report(progress)
            return
        if not force:
            raise TransferError(f"{d} exists and differs from {s}", "pass --force to overwrite it")
    await dst.makedirs(posixpath.dirname(d) or ".")
    part = d + PART
    for attempt in range(2):
        have = await dst.size(part) or 0
        if have > size:
            await dst.remove(part)
            have = 0
        progress.done += have
        progress.resumed_bytes += have
        # The destination is hashed as it is written, so checking it costs no second pass.
        hasher = hashlib.sha256()
        if have:
            async for block in dst.read(part, 0):  # the part already there, read once
                hasher.update(block)

        async def hashed(chunks: AsyncIterator[bytes], h: Any = hasher) -> AsyncIterator[bytes]:
            async for block in chunks:
                h.update(block)
                yield block

        def on_chunk(n: int) -> None:
            progress.done += n
            report(progress)

        await dst.append(part, hashed(src.read(s, have)), on_chunk)
        if hasher.hexdigest() == (await asyncio.shield(hashing))[s]:
            await dst.rename(part, d)
            progress.files += 1
            report(progress)
            return
        # The resumed part did not match (the source changed?): start this file over once.
        await dst.remove(part)
        progress.done -= size
        if attempt == 1:
            raise TransferError(f"{d}: hash mismatch after copying", "retry the transfer")


async def open_sftp_side(conn: asyncssh.SSHClientConnection, python: str) -> tuple[Any, Side]:
    sftp = await conn.start_sftp_client()
    return sftp, SftpSide(conn, sftp, python)
