"""Putting the agent zipapp on a node: over SFTP where the node's sshd offers it, else streamed
over an exec channel into the node's Python.

Either way the bytes land in a temporary file beside ``~/.cache/rdt-tui/agent-<hash>.pyz``, are
checked against their SHA-256 and only then renamed over the target, so a node never runs a
half-written agent. Some hardened clusters (and any minimal sshd_config) have no ``Subsystem
sftp``: the exec route needs nothing but the interpreter the agent runs on anyway.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shlex
from typing import Any

import asyncssh

from ..agent.build import zipapp_bytes
from .base import Disconnected, TransportError
from .errors import RemotePythonMissing, RemotePythonTooOld

REMOTE_DIR = ".cache/rdt-tui"  # relative to the remote home, where exec channels start
PROBE_TIMEOUT_S = 60.0
UPLOAD_TIMEOUT_S = 120.0

# Run on the node with its interpreter: its version, and the sha256 of an uploaded agent.
PROBE = (
    "import hashlib, json, os, sys\n"
    "p = sys.argv[1]\n"
    "h = None\n"
    "if os.path.isfile(p):\n"
    "    with open(p, 'rb') as f:\n"
    "        h = hashlib.sha256(f.read()).hexdigest()\n"
    "print(json.dumps({'version': list(sys.version_info[:3]), 'sha256': h,"
    " 'executable': sys.executable}))\n"
)

# Run on the node: read exactly SIZE bytes from stdin into a private temporary file beside
# PATH, check their sha256, then rename over PATH. Plain Python 3 (no walrus), any version the
# probe let through. Answers one JSON line; a failure names errno, so the console can say what
# to do instead of guessing.
UPLOAD = (
    "import errno, hashlib, json, os, sys, tempfile\n"
    "path, want, size = sys.argv[1], sys.argv[2], int(sys.argv[3])\n"
    "d = os.path.dirname(path) or '.'\n"
    "tmp = None\n"
    "try:\n"
    "    os.makedirs(d, mode=0o700, exist_ok=True)\n"
    "    os.chmod(d, 0o700)\n"
    "    fd, tmp = tempfile.mkstemp(prefix='.agent-', suffix='.part', dir=d)\n"
    "    h = hashlib.sha256()\n"
    "    n = 0\n"
    "    with os.fdopen(fd, 'wb') as f:\n"
    "        while True:\n"
    "            b = sys.stdin.buffer.read(1 << 16)\n"
    "            if not b:\n"
    "                break\n"
    "            h.update(b)\n"
    "            f.write(b)\n"
    "            n += len(b)\n"
    "        f.flush()\n"
    "        os.fsync(f.fileno())\n"
    "    if n != size or h.hexdigest() != want:\n"
    "        os.unlink(tmp)\n"
    "        print(json.dumps({'error': 'received %d of %d bytes, sha256 %s' %"
    " (n, size, h.hexdigest()), 'errno': 'mismatch'}))\n"
    "        sys.exit(3)\n"
    "    os.chmod(tmp, 0o600)\n"
    "    os.replace(tmp, path)\n"
    "except OSError as e:\n"
    "    if tmp is not None and os.path.exists(tmp):\n"
    "        os.unlink(tmp)\n"
    "    print(json.dumps({'error': '%s: %s' % (e.filename or d, e.strerror),"
    " 'errno': errno.errorcode.get(e.errno or 0, str(e.errno))}))\n"
    "    sys.exit(4)\n"
    "print(json.dumps({'ok': want}))\n"
)

HINTS = {
    "ENOSPC": "free some space in ~/.cache on {host} (or its quota), then connect again",
    "EDQUOT": "free some space in ~/.cache on {host} (or its quota), then connect again",
    "EACCES": "make ~/.cache/rdt-tui on {host} a directory you own and can write",
    "EPERM": "make ~/.cache/rdt-tui on {host} a directory you own and can write",
    "EROFS": "the home directory on {host} is read-only: ask its admin for a writable one",
    "mismatch": "the bytes arrived damaged: connect again; if it persists, check the node's disk",
}


async def probe(
    conn: asyncssh.SSHClientConnection, python: str, host: str, path: str
) -> dict[str, Any]:
    """The node interpreter's version and executable, and the sha256 of ``path`` there."""
    cmd = shlex.join([python, "-c", PROBE, path])
    try:
        result = await asyncio.wait_for(conn.run(cmd, check=False), PROBE_TIMEOUT_S)
    except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
        raise Disconnected(f"lost {host} while checking its Python: {exc}") from None
    if result.exit_status == 127 or (result.exit_status != 0 and not result.stdout):
        raise RemotePythonMissing(
            f"{python!r} does not run on {host}: {str(result.stderr or '').strip()[:300]}",
            "set the node's interpreter with `python = ...` in hosts.toml",
        )
    try:
        info: dict[str, Any] = json.loads(str(result.stdout).strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RemotePythonMissing(
            f"{python!r} on {host} did not answer like Python 3",
            "set the node's interpreter with `python = ...` in hosts.toml",
        ) from None
    return info


async def deploy_agent(
    conn: asyncssh.SSHClientConnection, python: str, host: str
) -> tuple[str, dict[str, Any]]:
    """Upload the agent zipapp when its hash is missing on the node: (its remote path, what
    the probe learnt about the node's Python)."""
    build, data = zipapp_bytes()
    digest = hashlib.sha256(data).hexdigest()
    path = f"{REMOTE_DIR}/agent-{build}.pyz"
    info = await probe(conn, python, host, path)
    if tuple(info["version"][:2]) < (3, 8):
        raise RemotePythonTooOld(
            f"{python} on {host} is Python "
            f"{'.'.join(map(str, info['version']))}; the agent needs 3.8 or newer",
            "point `python` in hosts.toml at a newer interpreter (a conda env's, say)",
        )
    if info.get("sha256") == digest:
        return path, info
    try:
        await upload_sftp(conn, path, data)
    except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
        # No SFTP subsystem ("Session request failed"), or SFTP broke off: the exec route
        # checks the hash on the node and names the real cause if it fails too.
        await upload_exec(conn, python, host, path, data, digest, sftp_error=str(exc) or "timeout")
        return path, info
    check = await probe(conn, python, host, path)
    if check.get("sha256") != digest:
        raise TransportError(
            f"the agent uploaded to {host} does not match its hash",
            HINTS["mismatch"].format(host=host),
        )
    return path, info


async def upload_sftp(conn: asyncssh.SSHClientConnection, path: str, data: bytes) -> None:
    await asyncio.wait_for(_upload_sftp(conn, path, data), UPLOAD_TIMEOUT_S)


async def _upload_sftp(conn: asyncssh.SSHClientConnection, path: str, data: bytes) -> None:
    async with conn.start_sftp_client() as sftp:
        await sftp.makedirs(REMOTE_DIR, exist_ok=True)
        await sftp.chmod(REMOTE_DIR, 0o700)
        tmp = f"{path}.part-{os.getpid()}"
        try:
            async with sftp.open(tmp, "wb", asyncssh.SFTPAttrs(permissions=0o600)) as fh:
                await fh.write(data)
            await sftp.chmod(tmp, 0o600)
            await sftp.posix_rename(tmp, path)
        except (OSError, asyncssh.Error):
            try:  # leave no half-written file behind for the exec route to trip over
                await sftp.remove(tmp)
            except (OSError, asyncssh.Error):
                pass
            raise


async def upload_exec(
    conn: asyncssh.SSHClientConnection,
    python: str,
    host: str,
    path: str,
    data: bytes,
    digest: str,
    sftp_error: str = "",
) -> None:
    """Stream ``data`` into the node's Python over an exec channel (no SFTP needed).
    ``sftp_error`` is why SFTP was not used, for the message if this fails too."""
    cmd = shlex.join([python, "-c", UPLOAD, path, digest, str(len(data))])
    try:
        result = await asyncio.wait_for(
            conn.run(cmd, input=data, encoding=None, check=False), UPLOAD_TIMEOUT_S
        )
    except asyncio.TimeoutError:
        raise TransportError(
            f"uploading the agent to {host} took longer than {UPLOAD_TIMEOUT_S:.0f}s",
            "the link may be very slow or stalled: connect again",
        ) from None
    except (OSError, asyncssh.Error) as exc:
        raise Disconnected(f"lost {host} while uploading the agent: {exc}") from None
    if result.exit_status == 0:
        return
    out = _text(result.stdout).strip().splitlines()
    try:
        answer = json.loads(out[-1])
        reason, code = str(answer["error"]), str(answer["errno"])
    except (ValueError, IndexError, KeyError, TypeError):
        err = _text(result.stderr).strip()
        reason, code = (err.splitlines() or ["no answer"])[-1][:300], ""
    route = f" (SFTP: {sftp_error}; then over an exec channel)" if sftp_error else ""
    raise TransportError(
        f"cannot upload the agent to {host}: {reason}{route}",
        HINTS.get(code, "check free space and permissions of ~/.cache/rdt-tui on {host}").format(
            host=host
        ),
    )


def _text(data: bytes | str | None) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")
