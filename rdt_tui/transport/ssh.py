"""SshTransport: the agent on a node reached over SSH, through any number of jump hosts.

Each hop is its own asyncssh connection tunnelled through the previous one, so every hop gets
its own keys and its own known_hosts check (asyncssh's ``tunnel="user@host"`` string would not
pass them on). Host keys are always verified; an unknown key is refused with its SHA256
fingerprint and the way to trust it, a changed key is refused outright. Agent forwarding is
never turned on. Every remote command is an argv joined with ``shlex.quote``.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shlex
import socket
from collections.abc import Callable, Sequence
from typing import Any

import asyncssh

from .base import Disconnected, Transport
from .deploy import deploy_agent
from .errors import (
    ConnectTimeout,
    HostKeyChanged,
    HostKeyUnknown,
    HostUnreachable,
    JumpUnreachable,
)
from .hop import Hop
from .session import RouteKey, SshSession, route_key
from .sshauth import AuthClient, refusal
from .transfer import BULK_PKTSIZE, BULK_WINDOW, remote_path

CONNECT_TIMEOUT_S = 15.0
KEEPALIVE_S = 5.0  # with 3 missed answers: a dead link is seen within about 15 s
KEEPALIVE_MISSES = 3
# AES-GCM first: with AES-NI it costs less per byte than asyncssh's default chacha20-poly1305
# (benchmarks/ssh_figures.py: a 1 GiB pull through a jump ~1.3x faster). Only the order of
# preference changes; a server without GCM still gets the rest of asyncssh's list.
_GCM = [b"aes128-gcm@openssh.com", b"aes256-gcm@openssh.com"]
CIPHERS = [
    alg.decode()
    for alg in _GCM
    + [a for a in asyncssh.encryption.get_default_encryption_algs() if a not in _GCM]
]


class WideTunnel:
    """A jump connection as asyncssh's ``tunnel``: the forwarded channel to the next hop is
    opened with the bulk window and packet size."""

    def __init__(self, conn: asyncssh.SSHClientConnection) -> None:
        self.conn = conn
        self.logger = conn.logger

    async def create_connection(self, session_factory: Any, host: str, port: int) -> Any:
        return await self.conn.create_connection(
            session_factory, host, port, window=BULK_WINDOW, max_pktsize=BULK_PKTSIZE
        )


def default_known_hosts() -> str:
    return os.environ.get("RDT_TUI_KNOWN_HOSTS") or os.path.expanduser("~/.ssh/known_hosts")


def known_hosts_names(hop: Hop) -> list[str]:
    """How known_hosts names this hop: ``host`` on port 22, ``[host]:port`` otherwise."""
    return [hop.hostname if hop.port == 22 else f"[{hop.hostname}]:{hop.port}"]


def trusted_keys(path: str, hop: Hop) -> list[asyncssh.SSHKey]:
    """The keys known_hosts trusts for this hop (any at all: a mismatch is a changed key)."""
    try:
        known = asyncssh.read_known_hosts(path)
    except (OSError, ValueError):
        return []
    keys: list[asyncssh.SSHKey] = []
    for name in known_hosts_names(hop):
        trusted, *_ = known.match(name, "", None)
        keys.extend(trusted)
    return keys


class SshConnector:
    """Opens the chain of connections to one host, each hop's connection taken from (and
    shared through) the session: another host behind the same jump uses the same jump
    connection, so the jump asks for its password or code once."""

    def __init__(
        self,
        hops: Sequence[Hop],
        known_hosts: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        session: SshSession | None = None,
    ) -> None:
        self.hops = list(hops)
        self.known_hosts = known_hosts or default_known_hosts()
        self.connect_timeout = connect_timeout
        self._owns_session = session is None
        self.session = session or SshSession()
        self._held: list[RouteKey] = []

    def _options(self, hop: Hop) -> dict[str, Any]:
        path = os.path.expanduser(hop.known_hosts or self.known_hosts)
        known: Any = path if os.path.exists(path) else asyncssh.import_known_hosts("")
        opts: dict[str, Any] = {
            "host": hop.hostname,
            "port": hop.port,
            "username": hop.user,
            "known_hosts": known,
            "config": None,
            "agent_forwarding": False,
            "connect_timeout": self.connect_timeout,
            "keepalive_interval": KEEPALIVE_S,
            "keepalive_count_max": KEEPALIVE_MISSES,
            "encryption_algs": CIPHERS,
        }
        if hop.proxy_command:
            opts["proxy_command"] = proxy_argv(hop)
        return opts

    async def connect(self) -> asyncssh.SSHClientConnection:
        return await self.connect_through(len(self.hops))

    async def connect_through(self, count: int) -> asyncssh.SSHClientConnection:
        """The connection to ``hops[count - 1]``, through the ones before it; held (and kept
        shared in the session) until :meth:`close`."""
        keys = [route_key(self.hops[: i + 1], self.known_hosts) for i in range(count)]
        taken = [k for k in keys if k not in self._held]
        for key in taken:
            self.session.hold(key)
            self._held.append(key)
        tunnel: asyncssh.SSHClientConnection | None = None
        try:
            for i, key in enumerate(keys):
                tunnel = await self.session.shared(
                    key, functools.partial(self._connect_hop, self.hops[i], tunnel, i)
                )
        except BaseException:
            for key in taken:  # a failed connect holds nothing
                self._held.remove(key)
                self.session.release(key)
            raise
        assert tunnel is not None
        return tunnel

    async def _connect_hop(
        self, hop: Hop, tunnel: asyncssh.SSHClientConnection | None, index: int
    ) -> asyncssh.SSHClientConnection:
        is_jump = index < len(self.hops) - 1
        via = self.hops[index - 1] if index else None
        opts = self._options(hop)
        what = (
            f"jump host {hop.label} ({hop.address()})"
            if is_jump
            else f"{hop.label} ({hop.address()})"
        )
        unreachable = JumpUnreachable if is_jump else HostUnreachable
        client: AuthClient | None = None
        try:
            keys = await self.session.keys_for(hop)
            client = AuthClient(self.session, hop, keys)
            # The session bounds the connect, its clock stopped while a person is asked.
            opts.update(client_keys=keys.keys, connect_timeout=None)
            made = client
            return await self.session.bounded(
                asyncssh.connect(
                    tunnel=WideTunnel(tunnel) if tunnel else None,
                    client_factory=lambda: made,
                    **opts,
                ),
                self.connect_timeout,
            )
        except asyncssh.HostKeyNotVerifiable:
            await self._raise_host_key(hop, tunnel)
            raise  # unreachable: _raise_host_key always raises
        except asyncssh.PermissionDenied:
            raise refusal(what, hop, client) from None
        except asyncssh.DisconnectError as exc:
            if client is None or not client.offered:
                raise unreachable(
                    f"{what} closed the connection: {exc.reason}",
                    "is the host up and sshd listening on that port?",
                ) from None
            # Mid-authentication: too many tries, or the login grace time ran out.
            raise refusal(what, hop, client, said=exc.reason) from None
        except asyncssh.ChannelOpenError as exc:
            raise unreachable(
                f"{via.label if via else 'the jump host'} could not reach {what}: {exc.reason}",
                "check the node's name and port as the jump host sees them",
            ) from None
        except (asyncio.TimeoutError, TimeoutError):
            raise ConnectTimeout(
                f"connecting to {what} timed out after {self.connect_timeout:.0f}s",
                "is the host up and the port open?",
            ) from None
        except socket.gaierror:
            raise unreachable(
                f"cannot resolve {hop.hostname} ({what})",
                "check HostName in ~/.ssh/config or the hosts file",
            ) from None
        except (OSError, asyncssh.Error) as exc:
            raise unreachable(
                f"cannot connect to {what}: {exc}",
                "is the host up and sshd listening on that port?",
            ) from None

    async def _raise_host_key(self, hop: Hop, tunnel: Any) -> None:
        path = os.path.expanduser(hop.known_hosts or self.known_hosts)
        fingerprint = await fetch_fingerprint(hop, tunnel)
        if trusted_keys(path, hop):
            raise HostKeyChanged(
                f"the host key of {hop.label} ({hop.address()}) is not the one in {path}: "
                f"it now presents {fingerprint or 'an unknown key'}",
                "this may be an attack; if the node was reinstalled, remove its old line "
                f"with `ssh-keygen -R {known_hosts_names(hop)[0]}` and trust it again",
            )
        raise HostKeyUnknown(
            f"{hop.label} ({hop.address()}) is not in {path}; its key is {fingerprint}",
            f"check the fingerprint, then run `rdt-tui trust {hop.label}`",
            hop.label,
            fingerprint,
        )

    def close(self) -> None:
        """Let go of the connections (closed once no other holder needs them)."""
        held, self._held = self._held, []
        for key in reversed(held):
            self.session.release(key)
        if self._owns_session:
            self.session.close()


async def fetch_fingerprint(hop: Hop, tunnel: Any) -> str | None:
    key = await fetch_host_key(hop, tunnel)
    return None if key is None else key.get_fingerprint("sha256")


def proxy_argv(hop: Hop) -> list[str] | None:
    """A ProxyCommand run as ssh runs it: ``$SHELL -c "exec CMD"``."""
    if not hop.proxy_command:
        return None
    return [os.environ.get("SHELL") or "/bin/sh", "-c", "exec " + hop.proxy_command]


async def fetch_host_key(hop: Hop, tunnel: Any) -> asyncssh.SSHKey | None:
    try:
        return await asyncssh.get_server_host_key(
            hop.hostname, hop.port, tunnel=tunnel, proxy_command=proxy_argv(hop), config=None
        )
    except (OSError, asyncssh.Error):
        return None


class SshTransport(Transport):
    """The agent's ``attach`` on a node, over an exec channel of an SSH connection.

    ``session`` is what this transport shares with the others of a console or command: the
    prompter for passwords, codes and passphrases, and the connections. Without one it has a
    session of its own that asks nothing (keys only) and ends with it.
    """

    def __init__(
        self,
        host: str,
        hops: Sequence[Hop],
        python: str = "python3",
        state_dir: str | None = None,
        simulate_gpus: int = 0,
        known_hosts: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        session: SshSession | None = None,
    ) -> None:
        self.host = host
        self.python = python
        self.state_dir = state_dir
        self.simulate_gpus = simulate_gpus
        self.connector = SshConnector(hops, known_hosts, connect_timeout, session)
        self.remote_info: dict[str, Any] = {}
        self._proc: asyncssh.SSHClientProcess[bytes] | None = None
        self._agent_path: str | None = None

    async def open(self) -> None:
        conn = await self.connector.connect()
        if self._agent_path is None:
            self._agent_path = await self.deploy(conn)
        argv = [self.python, self._agent_path]
        if self.state_dir:
            argv += ["--state-dir", self.state_dir]
        argv += ["attach", "--simulate-gpus", str(self.simulate_gpus)]
        try:
            self._proc = await conn.create_process(shlex.join(argv), encoding=None)
        except (OSError, asyncssh.Error) as exc:
            raise Disconnected(f"cannot start the agent on {self.host}: {exc}") from None

    async def deploy(self, conn: asyncssh.SSHClientConnection) -> str:
        """Upload the agent zipapp when its hash is missing on the node; its remote path."""
        path, self.remote_info = await deploy_agent(conn, self.python, self.host)
        return path

    async def transfer(
        self, push: bool, local: str, remote: str, force: bool, report: Callable[[Any], None]
    ) -> Any:
        from .exec_side import ExecSide
        from .local_side import LocalSide
        from .sftp_side import open_sftp_side
        from .transfer import Progress, Side, TransferError, copy_tree

        conn = await self.connector.connect()
        sftp: Any = None
        node: Side
        try:
            sftp, node = await open_sftp_side(conn, self.python)
        except (OSError, asyncssh.Error):
            # No SFTP subsystem on the node: the same copy over exec channels.
            node = ExecSide(conn, self.python)
        try:
            if push:
                return await copy_tree(
                    LocalSide(), local, node, remote_path(remote), force, Progress(), report
                )
            return await copy_tree(
                node, remote_path(remote), LocalSide(), local, force, Progress(), report
            )
        except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
            raise TransferError(
                f"transfer with {self.host} broke off: {exc or 'timed out'}",
                "run the same command again: it resumes",
            ) from None
        finally:
            if sftp is not None:
                sftp.exit()

    async def readline(self) -> bytes:
        if self._proc is None:
            return b""
        try:
            return bytes(await self._proc.stdout.readline())
        except (asyncssh.Error, OSError, asyncio.IncompleteReadError):
            return b""

    async def write(self, data: bytes) -> None:
        if self._proc is None:
            raise Disconnected(f"not connected to {self.host}")
        try:
            self._proc.stdin.write(data)
            await self._proc.stdin.drain()
        except (asyncssh.Error, OSError, BrokenPipeError) as exc:
            raise Disconnected(f"lost the connection to {self.host}: {exc}") from None

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.stdin.write_eof()
            except (asyncssh.Error, OSError):
                pass
            proc.close()
        self.connector.close()
