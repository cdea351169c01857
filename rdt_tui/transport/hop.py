"""What the transport reads of one SSH connection of a chain (a hop).

``config.hosts.Hop``, built from the ssh config and our hosts files, is one. The transport
names this protocol instead of importing ``config``: the client or the command line that
builds a transport hands it the hops, so the arrow runs config -> (cli, client) -> transport
and never from the transport back up.
"""

from __future__ import annotations

from typing import Protocol


class Hop(Protocol):
    label: str  # how the hop is named in messages: the alias, or user@host:port
    hostname: str
    port: int
    user: str | None
    identity_files: list[str]
    known_hosts: str | None  # None: the user's ~/.ssh/known_hosts
    proxy_command: str | None  # run as the transport (this hop is then the first)
    hash_known_hosts: bool  # ssh_config HashKnownHosts: trust writes hashed names

    def address(self) -> str:
        """``user@hostname:port`` as ssh is given it (the port only when not 22)."""
        ...
