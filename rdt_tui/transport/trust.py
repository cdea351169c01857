"""``rdt-tui trust HOST``: show each hop's host key fingerprint and add it to known_hosts
only after the user confirms. A key that differs from a known one is never replaced here."""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable

import asyncssh

from ..config.files import write_text_atomic
from ..config.hosts import Hop
from .base import TransportError
from .errors import HostKeyChanged, HostUnreachable, JumpUnreachable
from .ssh import SshConnector, default_known_hosts, known_hosts_names, trusted_keys


def append_known_host(path: str, hop: Hop, key: asyncssh.SSHKey) -> None:
    """Add one line to known_hosts, atomically (the file is rewritten, never half-written)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    try:
        with open(path, "rb") as fh:
            old = fh.read()
    except FileNotFoundError:
        old = b""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    public = key.convert_to_public().export_public_key("openssh").split()[:2]
    line = (known_hosts_names(hop)[0] + " " + b" ".join(public).decode() + "\n").encode()
    write_text_atomic(path, old + line)


async def trust_chain(
    hops: list[Hop],
    confirm: Callable[[Hop, str], bool | Awaitable[bool]],
    known_hosts: str | None = None,
) -> list[tuple[Hop, str, str]]:
    """Each hop's (hop, fingerprint, outcome): ``known``, ``added`` or ``declined``."""
    default = known_hosts or default_known_hosts()
    connector = SshConnector(hops, default)
    results: list[tuple[Hop, str, str]] = []
    tunnel: asyncssh.SSHClientConnection | None = None
    conns: list[asyncssh.SSHClientConnection] = []
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
                append_known_host(path, hop, key)
                results.append((hop, fingerprint, "added"))
            else:
                results.append((hop, fingerprint, "declined"))
                return results
            if is_jump:
                conn = await connector._connect_hop(hop, tunnel, True, hops[i - 1] if i else None)
                conns.append(conn)
                tunnel = conn
        return results
    finally:
        for conn in reversed(conns):
            conn.close()


async def _answer(answer: bool | Awaitable[bool]) -> bool:
    """The CLI asks on stdin (a plain bool), the console in a dialog (awaited)."""
    return bool(await answer) if inspect.isawaitable(answer) else bool(answer)
