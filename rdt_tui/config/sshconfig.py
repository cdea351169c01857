"""The OpenSSH client configuration, resolved for one host exactly as ``ssh -G`` does.

This follows OpenSSH 9.2's readconf.c and ssh.c step by step rather than approximating them,
because a config read "nearly" like ssh connects to the wrong machine: the user's file, then
/etc/ssh/ssh_config (skipped when a config file is named, like ``ssh -F``); for every option
the first value obtained wins; ``Host`` and ``Match`` (host, originalhost, user, localuser,
exec, all, canonical, final) decide which lines apply; ``Include`` is relative to ~/.ssh,
globbed in sorted order and scoped to the block it stands in; ``HostName`` expands ``%h``;
``CanonicalizeHostname`` looks names up and re-reads the files for the canonical name.
A file ssh would refuse raises SshConfigError with FILE:LINE; nothing is guessed.

The comparison with the real ``ssh -G`` is tests/test_sshconfig_parity.py, and
``rdt-tui hosts --verify`` does it on the user's own file.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import socket
from dataclasses import dataclass, field

from .sshcanon import canonicalize, clear_or_none, follow_cname, is_addr, lookup
from .sshlex import (
    SshConfigError,
    SshHostError,
    match_pattern,
    percent_expand,
    strdelim,
)
from .sshlines import (
    Line,
    Options,
    expand_hostname,
    include_paths,
    parse_jump,
    parse_lines,
)
from .sshpass import CANON_ALWAYS, CANON_NO, MAX_DEPTH, Pass

SYSTEM_CONFIG = "/etc/ssh/ssh_config"
DEFAULT_IDENTITIES = [
    "~/.ssh/id_rsa",
    "~/.ssh/id_ecdsa",
    "~/.ssh/id_ecdsa_sk",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_ed25519_sk",
    "~/.ssh/id_xmss",
    "~/.ssh/id_dsa",
]

__all__ = ["Resolved", "SshConfig", "SshConfigError", "load_ssh_config"]


@dataclass
class Resolved:
    """One host as ssh resolves it; field names follow ``ssh -G``'s output."""

    host: str  # what was asked for (``%n``)
    hostname: str
    port: int
    user: str
    identity_files: list[str]  # as written (tokens unexpanded), like ``ssh -G``
    identity_explicit: bool  # False: the defaults, none was configured
    proxy_command: str | None  # as written
    jump_host: str | None
    jump_user: str | None
    jump_port: int
    jump_extra: str | None
    known_hosts: list[str]  # expanded, like ``ssh -G``
    known_hosts_explicit: bool
    tokens: dict[str, str]
    hash_known_hosts: bool = False  # `rdt-tui trust` writes hashed names when set
    certificate_files: list[str] = field(default_factory=list)  # as written, like IdentityFile

    @property
    def proxy_jump(self) -> str | None:
        """The ``proxyjump`` line of ``ssh -G``."""
        if self.jump_host is None:
            return None
        host = self.jump_host
        if ":" in host or all(c in "0123456789." for c in host):
            host = f"[{host}]"
        extra = f"{self.jump_extra}," if self.jump_extra else ""
        user = f"{self.jump_user}@" if self.jump_user else ""
        port = f":{self.jump_port}" if self.jump_port > 0 else ""
        return f"{extra}{user}{host}{port}"

    def expand(self, path: str) -> str:
        """A path option as ssh uses it: ``~`` then the tokens then ``${VAR}``."""
        return percent_expand(tilde(path, self.tokens["d"]), self.tokens, dollar=True)


def tilde(path: str, home: str) -> str:
    """misc.c tilde_expand(): ``~`` is the passwd home (not $HOME), ``~user`` that user's."""
    if not path.startswith("~"):
        return path
    name, slash, rest = path[1:].partition("/")
    if name:
        try:
            home = pwd.getpwnam(name).pw_dir
        except KeyError:
            raise ValueError(f"no such user {name!r} in {path!r}") from None
    return home.rstrip("/") + "/" + rest if slash or rest else home


def _secure(st: os.stat_result, uid: int) -> bool:
    """Debian's secure_permissions(): owned by root or us, not world-writable, and
    group-writable only for a group whose one member is the owner."""
    if st.st_uid not in (0, uid) or st.st_mode & 0o002:
        return False
    if not st.st_mode & 0o020:
        return True
    try:
        group = grp.getgrgid(st.st_gid)
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        return False
    primary = [p for p in pwd.getpwall() if p.pw_gid == group.gr_gid]
    if any(p.pw_uid != uid for p in primary):
        return False
    if group.gr_mem and (group.gr_mem[0] != owner or len(group.gr_mem) > 1):
        return False
    return bool(primary or group.gr_mem)


class SshConfig:
    """The config files, read per host. ``user_file`` is read as the user's (Include paths
    relative to ~/.ssh, permissions checked); ``system_file`` after it, None to skip it."""

    def __init__(
        self,
        user_file: str,
        system_file: str | None = SYSTEM_CONFIG,
        explicit: bool = False,
    ) -> None:
        self.user_file = user_file
        self.system_file = system_file
        # Named like ``ssh -F``: read alone and not permission-checked (a missing one reads
        # as empty, where ssh -F would stop).
        self.explicit = explicit
        me = pwd.getpwuid(os.getuid())
        self.home, self.local_user, self.uid = me.pw_dir, me.pw_name, me.pw_uid
        self.thishost = socket.gethostname()
        self._lines: dict[str, list[str] | None] = {}
        self._checked: set[str] = set()
        self._aliases: list[tuple[str, str, int]] | None = None
        self._parsed: dict[str, list[Line]] = {}

    # -- files ---------------------------------------------------------------------------

    def _read(self, path: str, check_perm: bool) -> list[str] | None:
        if check_perm and path not in self._checked:
            try:
                secure = _secure(os.stat(path), self.uid)
            except OSError:
                secure = True  # a missing file is skipped below, as ssh skips it
            if not secure:
                raise SshConfigError(
                    path, 0, "bad owner or permissions (ssh refuses it too)", f"chmod go-w {path}"
                )
            self._checked.add(path)
        if path not in self._lines:
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except (FileNotFoundError, IsADirectoryError):
                self._lines[path] = None
                return None
            except OSError as exc:
                raise SshConfigError(path, 0, f"cannot read it: {exc.strerror}") from None
            self._lines[path] = data.decode("utf-8", errors="surrogateescape").split("\n")
        return self._lines[path]

    def parsed(self, path: str, check_perm: bool) -> list[Line] | None:
        """The file's lines, read and checked once (None when there is no such file)."""
        lines = self._read(path, check_perm)
        if lines is None:
            return None
        if path not in self._parsed:
            self._parsed[path] = parse_lines(lines)
        return self._parsed[path]

    def resolve(
        self, host: str, user: str | None = None, port: int = -1, jump: str | None = None
    ) -> Resolved:
        """What ``ssh -G [-l user] [-p port] [-J jump] host`` prints, for our fields."""
        opts = Options(user=user, port=port)
        if jump is not None:
            if not parse_jump(jump, opts, True):
                raise SshHostError(host, 0, f"invalid jump hosts {jump!r}")
            opts.proxy_command = "none"  # ssh -J: the config's ProxyCommand no longer applies
        original = host
        want_final = self._pass(opts, host, original, final=False)
        mode = CANON_NO if opts.canonicalize == -1 else opts.canonicalize
        if opts.hostname is not None:
            host = expand_hostname(opts.hostname, host)
            opts.hostname = host
        was_addr = is_addr(host)
        if not was_addr:
            host = host.lower()
        found = False
        if mode != CANON_NO or was_addr:
            host, found = canonicalize(host, opts, mode)
        direct = clear_or_none(opts.proxy_command) and opts.jump_host is None
        if not found and opts.permitted_cnames and (direct or mode == CANON_ALWAYS):
            cname = lookup(host, opts.port, want_cname=True)
            if cname is None and direct:
                raise SshHostError(
                    original,
                    0,
                    f"could not resolve hostname {host}",
                    "with CanonicalizePermittedCNAMEs set, ssh looks every direct name up "
                    "and fails the same way: check the name",
                )
            if cname:
                host = follow_cname(host, cname, opts, direct, mode)
        if mode != CANON_NO:
            want_final = True
        if want_final:
            opts.hostname = host
            self._pass(opts, host, original, final=True)
        return self._finish(opts, host, original)

    def _pass(self, opts: Options, host: str, original: str, final: bool) -> bool:
        state = Pass(self, opts, host, original, final)
        state.read_file(self.user_file, user_conf=True, check_perm=not self.explicit)
        if self.system_file and not self.explicit:
            state.read_file(self.system_file, user_conf=False, check_perm=False)
        return state.want_final

    def _finish(self, opts: Options, host: str, original: str) -> Resolved:
        user = opts.user or self.local_user
        port = 22 if opts.port <= 0 else opts.port
        proxy = None if clear_or_none(opts.proxy_command) else opts.proxy_command
        jump_host = opts.jump_host
        if jump_host == "none" and opts.jump_port == 0 and opts.jump_user is None:
            jump_host = None
        if jump_host is not None:
            proxy = None  # ssh turns the jump into its own ProxyCommand later
        tokens = self.tokens(host, str(port), user, original, opts.host_key_alias or original)
        known = opts.known_hosts or ["~/.ssh/known_hosts", "~/.ssh/known_hosts2"]
        if known[0].lower() == "none":
            known = []
        resolved = Resolved(
            host=original,
            hostname=host,
            port=port,
            user=user,
            identity_files=list(opts.identity_files) or list(DEFAULT_IDENTITIES),
            identity_explicit=bool(opts.identity_files),
            proxy_command=proxy,
            jump_host=jump_host,
            jump_user=opts.jump_user,
            jump_port=opts.jump_port,
            jump_extra=opts.jump_extra,
            known_hosts=[],
            known_hosts_explicit=bool(opts.known_hosts),
            tokens=tokens,
            hash_known_hosts=opts.hash_known_hosts == 1,
            certificate_files=list(opts.certificate_files),
        )
        try:
            resolved.known_hosts = [resolved.expand(k) for k in known]
        except ValueError as exc:
            raise SshHostError(original, 0, f"UserKnownHostsFile: {exc}") from None
        return resolved

    def tokens(
        self, host: str, port: str, user: str, original: str, keyalias: str
    ) -> dict[str, str]:
        """ssh_config(5)'s ``%`` tokens for a host (paths, and ``Match exec``)."""
        return {
            "C": hashlib.sha1((self.thishost + host + port + user).encode()).hexdigest(),
            "L": self.thishost.split(".")[0],
            "d": self.home,
            "h": host,
            "i": str(self.uid),
            "k": keyalias,
            "l": self.thishost,
            "n": original,
            "p": port,
            "r": user,
            "u": self.local_user,
        }

    # -- listing -------------------------------------------------------------------------

    def aliases_set(self) -> set[str]:
        return {name for name, _, _ in self.aliases()}

    def aliases(self) -> list[tuple[str, str, int]]:
        """Every plain ``Host`` name (no wildcard, not negated on its line) with its file and
        line, the user's file first. Names in a file included from inside a ``Host`` or
        ``Match`` block are left out: ssh reads those only for the block's own hosts."""
        if self._aliases is None:
            seen: dict[str, tuple[str, str, int]] = {}
            self._collect(self.user_file, True, seen, 0)
            if self.system_file and not self.explicit:
                self._collect(self.system_file, False, seen, 0)
            self._aliases = list(seen.values())
        return self._aliases

    def _collect(self, path: str, user_conf: bool, seen: dict, depth: int) -> None:
        scoped = False
        for line in self.parsed(path, False) or []:
            if line.keyword == "host":
                scoped = line.args != ["*"]
                negated = [a[1:] for a in line.args if a.startswith("!")]
                for name in line.args:
                    if any(c in name for c in "*?!") or name in seen:
                        continue
                    if not any(match_pattern(name, n) for n in negated):
                        seen[name] = (name, path, line.number)
            elif line.keyword == "match":
                scoped = strdelim(line.rest)[0] not in ("all",)
            elif line.keyword == "include" and not scoped and depth < MAX_DEPTH:
                for included in include_paths(line.args, user_conf):
                    self._collect(included, user_conf, seen, depth + 1)


def user_config_path() -> str:
    """RDT_TUI_SSH_CONFIG, else ~/.ssh/config of the passwd home (ssh does not read $HOME)."""
    return os.environ.get("RDT_TUI_SSH_CONFIG") or os.path.join(
        pwd.getpwuid(os.getuid()).pw_dir, ".ssh", "config"
    )


def from_environment() -> SshConfig:
    """The config as ssh reads it: the user's file then the system file
    (RDT_TUI_SSH_SYSTEM_CONFIG replaces /etc/ssh/ssh_config); RDT_TUI_SSH_CONFIG names one
    file read alone, like ``ssh -F``."""
    if os.environ.get("RDT_TUI_SSH_CONFIG"):
        return SshConfig(user_config_path(), None, explicit=True)
    return SshConfig(
        user_config_path(), os.environ.get("RDT_TUI_SSH_SYSTEM_CONFIG") or SYSTEM_CONFIG
    )


def load_ssh_config(path: str, system_file: str | None = None) -> SshConfig:
    """The config in ``path`` alone (like ``ssh -F path``, which skips the system file), or
    with ``system_file`` read after it."""
    if system_file is None:
        return SshConfig(path, None, explicit=True)
    return SshConfig(path, system_file, explicit=False)
