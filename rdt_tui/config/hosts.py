"""Known hosts: every non-wildcard ``Host`` of ``~/.ssh/config`` plus our hosts files.

A hosts file (``configs/hosts.toml`` in the project, ``hosts.toml`` in the user config dir)
holds ``[[hosts]]`` tables::

    [[hosts]]
    name = "gpu-a"                       # required: what you type as HOST
    hostname = "gpu-node.internal"       # default: name
    user = "alice"                       # default: ssh config, else your login name
    port = 22
    jump = ["alice@jump.example.org"]    # ProxyJump chain, first hop first (or "a,b")
    python = "/opt/conda/envs/rdt/bin/python"   # the node's interpreter (default python3)
    state_dir = "~/.local/state/rdt-tui" # the agent's state dir on the node
    identity_file = "~/.ssh/id_ed25519"

A hosts-file entry with the same name as an ssh config alias adds to it (python, state dir)
and wins where both set a value. ``jump`` follows OpenSSH's ProxyJump rules: with
``jump = ["a", "b"]`` only ``a`` follows jumps of its own.

Hosts of the ssh config are resolved exactly as ``ssh -G`` resolves them (sshconfig.py), and
their route as ssh builds it from ProxyJump and ProxyCommand (sshroute.py).
"""

from __future__ import annotations

import dataclasses
import os
import pwd
from dataclasses import dataclass, field
from typing import Any

import tomllib

from .paths import config_dir
from .sshconfig import SshConfig, SshConfigError, from_environment
from .sshlex import SshHostError, parse_user_host_port
from .sshroute import Jump, Step, hop_fields, jump_labels, route_to

LOCALHOST = "localhost"


class HostsError(Exception):
    """A bad hosts entry: the message names the file and line."""


@dataclass
class Hop:
    """One SSH connection of a chain: where to connect and as whom."""

    label: str
    hostname: str
    port: int = 22
    user: str | None = None
    identity_files: list[str] = field(default_factory=list)
    known_hosts: str | None = None
    proxy_command: str | None = None  # run as the transport (this hop is then the first)
    hash_known_hosts: bool = False  # ssh_config HashKnownHosts: trust writes hashed names
    certificate_files: list[str] = field(default_factory=list)  # CertificateFile, expanded

    def address(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port != 22 else ""
        return f"{user}{self.hostname}{port}"


@dataclass
class HostEntry:
    name: str
    hostname: str
    port: int = 22
    user: str | None = None
    jump: list[str] = field(default_factory=list)
    python: str = "python3"
    state_dir: str | None = None
    identity_files: list[str] = field(default_factory=list)
    known_hosts: str | None = None
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "hostname": self.hostname,
            "port": self.port,
            "user": self.user,
            "jump": self.jump,
            "python": self.python,
            "state_dir": self.state_dir,
            "source": self.source,
        }


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return 0


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError


def load_hosts_file(path: str) -> list[HostEntry]:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return []
    return parse_hosts_text(raw.decode("utf-8", errors="replace"), path)


def parse_hosts_text(text: str, path: str) -> list[HostEntry]:
    """The entries of a hosts file's text; errors name ``path`` and the line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HostsError(f"{path}: {exc}") from None
    hosts = data.get("hosts", [])
    if not isinstance(hosts, list):
        raise HostsError(f"{path}:{_line_of(text, 'hosts')}: `hosts` must be [[hosts]] tables")
    out = []
    for i, item in enumerate(hosts):
        where = f"{path}:{_line_of(text, str(item.get('name', '[[hosts]]')))}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise HostsError(f'{path}: host #{i + 1} needs a `name = "..."`')
        name = item["name"]
        unknown = set(item) - {
            "name",
            "hostname",
            "user",
            "port",
            "jump",
            "python",
            "state_dir",
            "identity_file",
        }
        if unknown:
            raise HostsError(f"{where}: host {name!r}: unknown key {sorted(unknown)[0]!r}")
        port = item.get("port", 22)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise HostsError(f"{where}: host {name!r}: `port` must be a number 1-65535")
        try:
            jump = _as_list(item.get("jump", []))
        except TypeError:
            raise HostsError(f"{where}: host {name!r}: `jump` must be a list of hosts") from None
        identity = item.get("identity_file")
        out.append(
            HostEntry(
                name=name,
                hostname=str(item.get("hostname") or name),
                port=port,
                user=item.get("user"),
                jump=jump,
                python=str(item.get("python") or "python3"),
                state_dir=item.get("state_dir"),
                identity_files=[identity] if isinstance(identity, str) else [],
                source=where,
            )
        )
    return out


def hosts_files() -> list[str]:
    project = os.path.join(os.getcwd(), "configs", "hosts.toml")
    return [project, os.path.join(config_dir(), "hosts.toml")]


def config_error(exc: SshConfigError) -> HostsError:
    return HostsError(f"{exc} ({exc.hint})" if exc.hint else str(exc))


class HostBook:
    """Every host we know, from the ssh config and the hosts files."""

    def __init__(
        self, ssh_config: SshConfig, file_hosts: list[HostEntry], ssh_config_file: str = ""
    ) -> None:
        self.ssh = ssh_config
        self.ssh_config_file = ssh_config_file or ssh_config.user_file
        self.entries: dict[str, HostEntry] = {}
        self.file_entries: dict[str, HostEntry] = {}
        self._own: dict[str, HostEntry] = {}  # hosts-file entries as written, before merging
        self.errors: dict[str, str] = {}  # aliases that cannot be resolved, and why
        try:
            for alias, source, line in ssh_config.aliases():
                try:
                    self.entries[alias] = self._from_ssh(alias, f"{source}:{line}")
                except SshHostError as exc:  # the others still work, as they do with ssh
                    self.entries[alias] = HostEntry(alias, alias, source=f"{source}:{line}")
                    self.errors[alias] = str(config_error(exc))
        except SshConfigError as exc:
            raise config_error(exc) from None
        for entry in file_hosts:
            self._own[entry.name] = dataclasses.replace(entry, jump=list(entry.jump))
            base = self.entries.get(entry.name)
            if base is not None:
                entry.identity_files = entry.identity_files or base.identity_files
                entry.known_hosts = entry.known_hosts or base.known_hosts
                entry.user = entry.user or base.user
                entry.jump = entry.jump or base.jump
                if entry.hostname == entry.name:
                    entry.hostname = base.hostname
                if entry.port == 22:
                    entry.port = base.port
            self.entries[entry.name] = entry
            self.file_entries[entry.name] = entry

    @classmethod
    def load(cls) -> HostBook:
        try:
            ssh = from_environment()
        except SshConfigError as exc:
            raise config_error(exc) from None
        hosts: list[HostEntry] = []
        for f in hosts_files():
            hosts.extend(load_hosts_file(f))
        return cls(ssh, hosts)

    def _from_ssh(self, alias: str, source: str, user: str | None = None, port: int = -1):
        r = self.ssh.resolve(alias, user, port)
        return HostEntry(
            name=alias,
            hostname=r.hostname,
            port=r.port,
            user=r.user,
            jump=jump_labels(r),
            identity_files=r.identity_files if r.identity_explicit else [],
            known_hosts=r.known_hosts[0] if r.known_hosts_explicit and r.known_hosts else None,
            source=source,
        )

    def get(self, name: str) -> HostEntry:
        entry = self.entries.get(name)
        if entry is not None:
            return entry
        user, host, port = self._split(name)
        try:
            return self._from_ssh(host, "command line", user, port)
        except SshConfigError as exc:
            raise config_error(exc) from None

    @staticmethod
    def _split(spec: str) -> tuple[str | None, str, int]:
        """``[user@]host[:port]``, as ssh reads a jump host."""
        parsed = parse_user_host_port(spec)
        if parsed is None:
            raise HostsError(f"bad host {spec!r}: use [user@]host[:port] (a port is a number)")
        return parsed

    def chain(self, name: str) -> list[Hop]:
        """The hops to reach ``name``: its jump hosts first, then itself."""
        return [hop for hop, _ in self.steps(name)]

    def steps(self, name: str) -> list[tuple[Hop, Step | None]]:
        """Each hop with how ssh resolved it (None for a hosts-file entry)."""
        if name in self.errors:
            raise HostsError(self.errors[name])
        return self._steps(name, None, frozenset())

    def _steps(
        self, spec: str, extra: list[str] | None, seen: frozenset[str]
    ) -> list[tuple[Hop, Step | None]]:
        if spec in seen:
            raise HostsError(f"the jump chain of {spec!r} loops back on itself")
        entry = self.file_entries.get(spec)
        if entry is None:
            user, host, port = self._split(spec)
            want = Jump(host, user, port, ",".join(extra) if extra else None)
            try:
                return [(self._hop(step), step) for step in route_to(self.ssh, want)]
            except SshConfigError as exc:
                raise config_error(exc) from None
        own = self._own[spec]
        jumps = extra if extra is not None else own.jump
        # An ssh alias of the same name underlies the entry: its route (unless the entry has
        # jumps of its own) and its identity files, expanded as ssh expands them.
        ssh_steps: list[tuple[Hop, Step | None]] = []
        if spec in self.ssh.aliases_set() and not (jumps and own.identity_files):
            ssh_steps = self._steps_of_alias(spec)
        base = ssh_steps[-1][0] if ssh_steps else None
        if jumps:
            before = self._steps(jumps[-1], jumps[:-1] or None, seen | {spec})
        else:
            before = ssh_steps[:-1]
        hop = Hop(
            label=spec,
            hostname=entry.hostname,
            port=entry.port,
            user=entry.user or pwd.getpwuid(os.getuid()).pw_name,
            identity_files=list(own.identity_files or (base.identity_files if base else [])),
            known_hosts=entry.known_hosts,
            proxy_command=base.proxy_command if base and not jumps else None,
            hash_known_hosts=base.hash_known_hosts if base else self._hash_known_hosts(spec),
            certificate_files=list(base.certificate_files) if base else [],
        )
        return [*before, (hop, None)]

    def _hash_known_hosts(self, name: str) -> bool:
        """HashKnownHosts for a hosts-file entry (usually set once for every host)."""
        try:
            return self.ssh.resolve(name).hash_known_hosts
        except (SshConfigError, ValueError):
            return False

    def _steps_of_alias(self, alias: str) -> list[tuple[Hop, Step | None]]:
        try:
            return [(self._hop(s), s) for s in route_to(self.ssh, Jump(alias))]
        except SshConfigError as exc:
            raise config_error(exc) from None

    def _hop(self, step: Step) -> Hop:
        try:
            return Hop(**hop_fields(step))
        except SshHostError as exc:
            raise config_error(exc) from None
