"""The node's end of a copy where its sshd has no SFTP subsystem: every operation is a small
script run by the node's Python over an exec channel, file bytes streamed on stdin/stdout.

It keeps the SFTP side's rules, and on the node it can do better than SFTP: a part file is
opened with O_NOFOLLOW (O_EXCL when new) and resumed only when the connecting user owns it.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncssh

from .transfer import (
    BULK_PKTSIZE,
    BULK_WINDOW,
    CHUNK,
    PART,
    Side,
    TransferError,
    node_sha256,
    not_ours,
    refused_link,
)

OP_TIMEOUT_S = 60.0

# One-shot operations: ``op args...`` in, one JSON line out ({"ok": value} or {"error": ...}).
OPS = (
    "import json, os, stat, sys\n"
    "PART = sys.argv[1]\n"
    "op, a = sys.argv[2], sys.argv[3:]\n"
    "def lst(p):\n"
    "    try:\n"
    "        return os.lstat(p)\n"
    "    except FileNotFoundError:\n"
    "        return None\n"
    "def check(root, path):\n"
    "    rel = os.path.relpath(os.path.dirname(path) or '.', root)\n"
    "    cur = root\n"
    "    for part in rel.split('/'):\n"
    "        if part in ('', '.'):\n"
    "            continue\n"
    "        cur = os.path.join(cur, part)\n"
    "        st = lst(cur)\n"
    "        if st is None:\n"
    "            break\n"
    "        if not stat.S_ISDIR(st.st_mode):\n"
    "            return ['link', cur]\n"
    "    for p in (path, path + PART):\n"
    "        st = lst(p)\n"
    "        if st is None:\n"
    "            continue\n"
    "        if stat.S_ISLNK(st.st_mode):\n"
    "            return ['link', p]\n"
    "        if p.endswith(PART) and (not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid()):\n"
    "            return ['notours', p]\n"
    "    return None\n"
    "def walk(root):\n"
    "    out = []\n"
    "    for d, dirs, files in os.walk(root):\n"
    "        for n in files:\n"
    "            full = os.path.join(d, n)\n"
    "            st = lst(full)\n"
    "            if st is not None and stat.S_ISREG(st.st_mode) and not n.endswith(PART):\n"
    "                out.append([os.path.relpath(full, root), st.st_size])\n"
    "    return sorted(out)\n"
    "def size(p):\n"
    "    try:\n"
    "        return os.stat(p).st_size\n"
    "    except FileNotFoundError:\n"
    "        return None\n"
    "def remove(p):\n"
    "    try:\n"
    "        os.unlink(p)\n"
    "    except FileNotFoundError:\n"
    "        pass\n"
    "def makedirs(p):\n"
    "    os.makedirs(p, exist_ok=True)\n"
    "ops = {'size': size, 'isdir': os.path.isdir, 'walk': walk, 'makedirs': makedirs,\n"
    "       'rename': os.rename, 'remove': remove, 'check': check}\n"
    "try:\n"
    "    print(json.dumps({'ok': ops[op](*a)}))\n"
    "except OSError as e:\n"
    "    print(json.dumps({'error': '%s: %s' % (e.filename or a, e.strerror)}))\n"
)

READ = (
    "import sys\n"
    "with open(sys.argv[1], 'rb') as f:\n"
    "    f.seek(int(sys.argv[2]))\n"
    "    while True:\n"
    "        b = f.read(1 << 20)\n"
    "        if not b:\n"
    "            break\n"
    "        sys.stdout.buffer.write(b)\n"
    "sys.stdout.buffer.flush()\n"
)

# Exit 5: a part file that is not a regular file of ours; 6: a symbolic link (ELOOP).
APPEND = (
    "import errno, os, stat, sys\n"
    "p = sys.argv[1]\n"
    "fl = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW\n"
    "try:\n"
    "    try:\n"
    "        fd = os.open(p, fl | os.O_CREAT | os.O_EXCL, 0o600)\n"
    "    except FileExistsError:\n"
    "        fd = os.open(p, fl)\n"
    "except OSError as e:\n"
    "    if e.errno == errno.ELOOP:\n"
    "        sys.exit(6)\n"
    "    raise\n"
    "st = os.fstat(fd)\n"
    "if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():\n"
    "    sys.exit(5)\n"
    "with os.fdopen(fd, 'ab') as f:\n"
    "    while True:\n"
    "        b = sys.stdin.buffer.read(1 << 20)\n"
    "        if not b:\n"
    "            break\n"
    "        f.write(b)\n"
    "    f.flush()\n"
    "    os.fsync(f.fileno())\n"
)


class ExecSide(Side):
    """The node, through its Python over exec channels (no SFTP needed)."""

    def __init__(self, conn: asyncssh.SSHClientConnection, python: str) -> None:
        self.conn = conn
        self.python = python

    async def _op(self, op: str, *args: str) -> Any:
        cmd = shlex.join([self.python, "-c", OPS, PART, op, *args])
        result = await asyncio.wait_for(self.conn.run(cmd, check=False), OP_TIMEOUT_S)
        try:
            answer = json.loads(str(result.stdout).strip().splitlines()[-1])
            if not isinstance(answer, dict) or not ("ok" in answer or "error" in answer):
                raise ValueError("not an answer")
        except (ValueError, IndexError):
            raise TransferError(
                f"the node's Python failed at {op}: {str(result.stderr)[-300:]}"
            ) from None
        if "error" in answer:
            raise TransferError(f"{op} on the node failed: {answer['error']}")
        return answer["ok"]

    async def size(self, path: str) -> int | None:
        size = await self._op("size", path)
        return None if size is None else int(size)

    async def is_dir(self, path: str) -> bool:
        return bool(await self._op("isdir", path))

    async def walk(self, path: str) -> list[tuple[str, int]]:
        listing = await self._op("walk", path)
        try:
            return [(str(rel), int(size)) for rel, size in listing]
        except (TypeError, ValueError):
            raise TransferError(f"the node's listing of {path} is not a list of files") from None

    async def read(self, path: str, offset: int) -> AsyncIterator[bytes]:
        cmd = shlex.join([self.python, "-c", READ, path, str(offset)])
        proc = await self.conn.create_process(
            cmd, encoding=None, window=BULK_WINDOW, max_pktsize=BULK_PKTSIZE
        )
        try:
            while data := await proc.stdout.read(CHUNK):
                yield bytes(data)
            status = await asyncio.wait_for(proc.wait(), OP_TIMEOUT_S)
            if status.exit_status != 0:
                raise TransferError(f"reading {path} on the node failed: {_tail(status.stderr)}")
        finally:
            proc.close()

    async def append(
        self, path: str, chunks: AsyncIterator[bytes], on_chunk: Callable[[int], None]
    ) -> None:
        cmd = shlex.join([self.python, "-c", APPEND, path])
        proc = await self.conn.create_process(cmd, encoding=None)
        try:
            async for data in chunks:
                proc.stdin.write(data)
                await proc.stdin.drain()
                on_chunk(len(data))
            proc.stdin.write_eof()
            status = await asyncio.wait_for(proc.wait(), OP_TIMEOUT_S)
        finally:
            proc.close()
        if status.exit_status == 6:
            raise refused_link(path)
        if status.exit_status == 5:
            raise not_ours(path)
        if status.exit_status != 0:
            raise TransferError(f"writing {path} on the node failed: {_tail(status.stderr)}")

    async def makedirs(self, path: str) -> None:
        await self._op("makedirs", path)

    async def rename(self, src: str, dst: str) -> None:
        await self._op("rename", src, dst)

    async def remove(self, path: str) -> None:
        await self._op("remove", path)

    async def sha256(self, paths: list[str]) -> dict[str, str]:
        return await node_sha256(self.conn, self.python, paths)

    async def check_target(self, root: str, path: str) -> None:
        problem = await self._op("check", root, path)
        if problem is not None:
            kind, where = problem
            raise refused_link(where) if kind == "link" else not_ours(where)


def _tail(data: bytes | str | None) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")
    return text.strip()[-300:]
