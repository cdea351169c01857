"""``rdt-tui trust HOST``: show each hop's host key fingerprint and add it to known_hosts
only after the user confirms. A key that differs from a known one is never replaced here."""

from __future__ import annotations

import base64
import errno
import fcntl
import hashlib
import hmac
import inspect
import os
import stat
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import asyncssh

from .base import TransportError
from .errors import HostKeyChanged, HostUnreachable, JumpUnreachable
from .hop import Hop
from .session import SshSession
from .ssh import SshConnector, default_known_hosts, known_hosts_names, trusted_keys

LOCK_TIMEOUT_S = 10.0

H = TypeVar("H", bound=Hop)  # the caller's own hops come back in the results


def hashed_name(name: str, salt: bytes | None = None) -> str:
    """OpenSSH's hashed known_hosts name: ``|1|base64(salt)|base64(HMAC-SHA1(salt, name))``."""
    salt = salt if salt is not None else os.urandom(20)
    mac = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(mac).decode()}"


def append_known_host(path: str, hop: Hop, key: asyncssh.SSHKey, hash_name: bool = False) -> None:
    """Append one line to known_hosts under an exclusive lock, so concurrent trusts never lose
    or mix a line. A symlinked file is written through (the link stays); anything but a
    regular file (``/dev/null``, a FIFO, a directory) is refused, never replaced."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        _refuse_non_regular(path)
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise KnownHostsError(
            f"cannot open {path}: {exc.strerror}", "check that it is a file you can write"
        ) from None
    try:
        _refuse_non_regular(path, os.fstat(fd).st_mode)
        _lock(fd, path)
        size = os.fstat(fd).st_size
        last = os.pread(fd, 1, size - 1) if size else b"\n"
        public = key.convert_to_public().export_public_key("openssh").split()[:2]
        name = known_hosts_names(hop)[0]
        line = (hashed_name(name) if hash_name else name) + " " + b" ".join(public).decode()
        data = (b"" if last == b"\n" else b"\n") + line.encode() + b"\n"
        try:
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, size)  # never leave half a line behind
            raise KnownHostsError(
                f"cannot write {path}: {exc.strerror}", "free some space, then trust again"
            ) from None
    finally:
        os.close(fd)  # also releases the lock


class KnownHostsError(TransportError):
    title = "Cannot write known_hosts"


def _refuse_non_regular(path: str, mode: int | None = None) -> None:
    if mode is None:
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            return
    if not stat.S_ISREG(mode):
        raise KnownHostsError(
            f"{path} is not a regular file: rdt-tui will not write a host key into it "
            "(nor replace it)",
            "point UserKnownHostsFile (or RDT_TUI_KNOWN_HOSTS) at a regular file, "
            "or add the key there yourself",
        )


def _lock(fd: int, path: str) -> None:
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise KnownHostsError(
                    f"{path} stayed locked by another process for {LOCK_TIMEOUT_S:.0f}s",
                    "is another `rdt-tui trust` or ssh-keygen stuck? retry when it is done",
                ) from None
            time.sleep(0.02)


async def trust_chain(
    hops: Sequence[H],
    confirm: Callable[[H, str], bool | Awaitable[bool]],
    known_hosts: str | None = None,
    session: SshSession | None = None,
) -> list[tuple[H, str, str]]:
    """Each hop's (hop, fingerprint, outcome): ``known``, ``added`` or ``declined``.

    A jump is logged into to reach the next hop, through ``session`` (its prompter asks
    what the jump wants; its connection is then shared with the console's connects)."""
    default = known_hosts or default_known_hosts()
    connector = SshConnector(hops, default, session=session)
    results: list[tuple[H, str, str]] = []
    tunnel: asyncssh.SSHClientConnection | None = None
    try:
        for i, hop in enumerate(hops):
            is_jump = i < len(hops) - 1
            path = os.path.expanduser(hop.known_hosts or default)
            try:
                key = await asyncssh.get_server_host_key(hop.hostname, hop.port, tunnel=tunnel)
            except (OSError, asyncssh.Error) as exc:
                kind = JumpUnreachable if is_jump else HostUnreachable
                raise kind(
                    f"cannot reach {hop.label} ({hop.address()}): {exc}",
                    "is the host up and sshd listening on that port?",
                ) from None
            if key is None:
                raise TransportError(f"{hop.label} offered no host key")
            fingerprint = key.get_fingerprint("sha256")
            trusted = trusted_keys(path, hop)
            public = key.convert_to_public().export_public_key("openssh").split()[:2]
            if any(t.export_public_key("openssh").split()[:2] == public for t in trusted):
                results.append((hop, fingerprint, "known"))
            elif trusted:
                raise HostKeyChanged(
                    f"{hop.label} ({hop.address()}) now presents {fingerprint}, which is not "
                    f"the key recorded in {path}",
                    "this may be an attack; if the node was reinstalled, remove the old line "
                    f"with `ssh-keygen -R {known_hosts_names(hop)[0]}` first",
                )
            elif await _answer(confirm(hop, fingerprint)):
                append_known_host(path, hop, key, hop.hash_known_hosts)
                results.append((hop, fingerprint, "added"))
            else:
                results.append((hop, fingerprint, "declined"))
                return results
            if is_jump:
                tunnel = await connector.connect_through(i + 1)
        return results
    finally:
        connector.close()


async def _answer(answer: bool | Awaitable[bool]) -> bool:
    """The CLI asks on stdin (a plain bool), the console in a dialog (awaited)."""
    return bool(await answer) if inspect.isawaitable(answer) else bool(answer)
