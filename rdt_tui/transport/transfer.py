"""Copy files and directories between this machine and a node: resumable, hash-checked.

Each file goes to ``<dest>.rdt-part`` first and is renamed into place once whole, so a
destination is never half-written. An interrupted copy leaves its part file, and the next
run continues from its size. At the end the SHA-256 of both sides must match (on a mismatch
the file is copied once more from zero). A destination that exists and differs is kept
unless ``force`` is given.

Neither end is trusted with paths: a name from a directory listing that holds ``/``, ``..`` or
NUL is refused, a destination never passes through a symbolic link below the directory the
user named, and a part file is opened without following links and only when this user owns it
(a shared directory may hold one that another user planted).
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import json
import posixpath
import shlex
import stat
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from .base import TransportError

CHUNK = 8 * 1024 * 1024
# SFTP requests are as large as the server allows (limits@openssh.com: 255 KiB from
# OpenSSH's sftp-server, asyncssh's safe 16 KiB from a server that does not say), and this
# many bytes of them are in flight: asyncssh's channel window, which more would only wait on.
# Against 64 KiB x 64 requests: ~1.15x on a 1 GiB pull through a jump (ssh_figures.py).
IN_FLIGHT = 2 * 1024 * 1024


# Channels that carry bulk bytes (the next hop's connection through a jump, a file read) take
# a wider window than asyncssh's 2 MiB: a window caps a stream at window / round trip (2 MiB
# over a 50 ms link: 40 MiB/s), and a jump adds a round trip. Packets of 64 KiB halve the
# Python work per packet of its 32 KiB; 256 KiB cost more CPU on a loopback pull, asyncssh
# joining a packet's pieces by copying (benchmarks/ssh_figures.py --pull-only).
BULK_WINDOW = 8 * 1024 * 1024
BULK_PKTSIZE = 64 * 1024


def requests_for(block: int) -> int:
    return max(4, min(128, IN_FLIGHT // max(block, 1)))


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


async def node_sha256(conn: Any, python: str, paths: list[str]) -> dict[str, str]:
    """The sha256 of ``paths`` on the node, computed by its Python over one exec channel."""
    result = await conn.run(shlex.join([python, "-c", HASH_CODE, *paths]), check=False)
    if result.exit_status != 0:
        raise TransferError(f"hashing on the node failed: {str(result.stderr)[-300:]}")
    return dict(json.loads(str(result.stdout)))


class TransferError(TransportError):
    title = "Transfer failed"


def safe_relpath(rel: str) -> str:
    """``rel`` when it names a file below a directory: no empty, ``.`` or ``..`` part, no
    leading ``/``, no NUL. A listing from a hostile node could say anything."""
    if (
        not rel
        or "\0" in rel
        or rel.startswith("/")
        or any(part in ("", ".", "..") for part in rel.split("/"))
    ):
        raise TransferError(
            f"refusing the file name {rel!r}: it would lead outside the destination",
            "the source listed a name no directory can hold; check the source side",
        )
    return rel


def refused_link(path: str) -> TransferError:
    return TransferError(
        f"{path} is a symbolic link (or not a directory): refusing to write through it",
        "remove it, or choose a destination without links below it",
    )


def not_ours(path: str) -> TransferError:
    return TransferError(
        f"{path} exists but was not left by you (not a regular file you own): "
        "refusing to resume into it",
        "remove it if it is stale, or choose a destination only you can write",
    )


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

    async def check_target(self, root: str, path: str) -> None:
        """Refuse a destination ``path`` below ``root`` that passes through (or is) a symbolic
        link, and a part file beside it that this user did not create."""
        cur = root
        for part in posixpath.relpath(posixpath.dirname(path) or ".", root).split("/"):
            if part in ("", "."):
                continue
            cur = posixpath.join(cur, part)
            st = await self.lstat(cur)
            if st is None:
                break  # the rest is made by makedirs, as real directories
            if not stat.S_ISDIR(st[0]):
                raise refused_link(cur)
        for p in (path, path + PART):
            st = await self.lstat(p)
            if st is None:
                continue
            mode, owner = st
            if stat.S_ISLNK(mode):
                raise refused_link(p)
            if p.endswith(PART) and (not stat.S_ISREG(mode) or owner != await self.uid()):
                raise not_ours(p)

    async def lstat(self, path: str) -> tuple[int, int | None] | None:
        """(mode, owner's uid) of ``path`` itself, None when there is none."""
        raise NotImplementedError

    async def uid(self) -> int:
        """The uid this side's files are written as."""
        raise NotImplementedError

    def read_part(self, path: str) -> AsyncIterator[bytes]:
        """The bytes of a part file this copy resumes (``check_target`` vetted it)."""
        return self.read(path, 0)

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)


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
    root = dst_path
    if await src.is_dir(src_path):
        files = await src.walk(src_path)
        pairs = [
            (src.join(src_path, rel), dst.join(dst_path, safe_relpath(rel)), size)
            for rel, size in files
        ]
    else:
        size = await src.size(src_path)
        if size is None:
            raise TransferError(f"{src_path} does not exist")
        if await dst.is_dir(dst_path):
            name = safe_relpath(posixpath.basename(src_path.rstrip("/")))
            dst_path = dst.join(dst_path, name)
        else:
            root = posixpath.dirname(dst_path) or "."
        pairs = [(src_path, dst_path, size)]
    progress.total = sum(size for _, _, size in pairs)
    # The source hashes while the bytes flow: the check at the end costs no extra pass.
    hashing = asyncio.get_running_loop().create_task(
        src.sha256([s for s, _, _ in pairs]) if pairs else _none()
    )
    try:
        for s, d, size in pairs:
            await dst.check_target(root, d)
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
            async for block in dst.read_part(part):  # the part already there, read once
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
