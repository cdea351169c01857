"""The route to a host: its jump hosts first, as OpenSSH's ProxyJump rules make them.

``ProxyJump a,b`` on T makes ssh run ``ssh -W [%h]:%p -J a b``: b is resolved through its
own config entry with the user and port written in the ProxyJump, and its own ProxyJump is
replaced by ``-J a``, so only the first hop (a) follows a ProxyJump of its own.

``ProxyCommand ssh -W %h:%p X`` (also ``ssh X -W %h:%p`` and ``ssh X nc %h %p``) is taken as
a jump through X, so we open X ourselves and verify its key; any other ProxyCommand is run
as the first hop's transport (as ssh runs it: ``$SHELL -c "exec CMD"``) and is shown so.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .sshconfig import Resolved, SshConfig
from .sshlex import SshHostError, a2port, parse_ssh_uri, parse_user_host_port, percent_expand

MAX_HOPS = 16
SHELL_SPECIALS = set("|&;<>()$`\\\n{}*?[]!")
# ssh options that do not change where or as whom a ProxyCommand's ssh connects.
NO_ROUTE_FLAGS = set("46qTxaNCvkgnsAXYty")
NO_ROUTE_O = {
    "batchmode",
    "stricthostkeychecking",
    "connecttimeout",
    "serveraliveinterval",
    "serveralivecountmax",
    "loglevel",
    "controlmaster",
    "controlpath",
    "controlpersist",
    "compression",
    "forwardagent",
    "identitiesonly",
    "userknownhostsfile",
    "exitonforwardfailure",
    "clearallforwardings",
}


@dataclass
class Jump:
    host: str
    user: str | None = None
    port: int = -1
    extra: str | None = None  # the -J given to that hop's ssh
    identities: list[str] = field(default_factory=list)


@dataclass
class Step:
    """One connection of a route: the alias it was reached by and how ssh resolves it."""

    label: str
    resolved: Resolved
    proxy_command: str | None = None  # expanded; only on the first step
    via: str = ""  # "ProxyJump" or "ProxyCommand": how the step before it was found
    asked: Jump | None = None  # what ssh is asked for this step (``ssh -G`` arguments)


def route(cfg: SshConfig, host: str, user: str | None = None, port: int = -1) -> list[Step]:
    """The steps to reach ``host`` (``user``/``port`` as given on a command line)."""
    return _route(cfg, Jump(host, user, port), [], 0)


def route_to(cfg: SshConfig, want: Jump) -> list[Step]:
    """The steps ssh takes for ``ssh -l USER -p PORT -J EXTRA HOST`` (``want``)."""
    return _route(cfg, want, [], 0)


def _route(cfg: SshConfig, want: Jump, seen: list[str], depth: int) -> list[Step]:
    key = f"{want.user or ''}@{want.host}:{want.port}/{want.extra or ''}"
    if key in seen or depth > MAX_HOPS:
        raise SshHostError(
            want.host,
            0,
            f"the jump chain of {want.host!r} loops back on itself",
            "check ProxyJump / ProxyCommand of the hosts in it",
        )
    r = cfg.resolve(want.host, want.user, want.port, want.extra)
    seen = [*seen, key]
    if r.jump_host is not None:
        jump_user, jump_port = r.jump_user or r.user, r.jump_port if r.jump_port > 0 else 22
        if r.jump_host == r.hostname and jump_port == r.port and jump_user == r.user:
            raise SshHostError(want.host, 0, f"jumphost loop via {r.jump_host}")
        before = _route(
            cfg, Jump(r.jump_host, r.jump_user, r.jump_port, r.jump_extra), seen, depth + 1
        )
        return [*before, Step(want.host, r, None, "ProxyJump", want)]
    if r.proxy_command is not None:
        try:
            expanded = expand_proxy_command(r)
        except ValueError as exc:
            raise SshHostError(want.host, 0, f"ProxyCommand: {exc}") from None
        through = ssh_jump_of(r.proxy_command, lambda s: percent_expand(s, proxy_tokens(r)))
        if through is not None:
            before = _route(cfg, through, seen, depth + 1)
            return [*before, Step(want.host, r, None, "ProxyCommand", want)]
        if r.proxy_command.strip() == "-":
            raise SshHostError(
                want.host,
                0,
                "ProxyCommand - (a passed file descriptor) is not supported",
                "use ProxyJump, or run rdt-tui where the host is reachable",
            )
        return [Step(want.host, r, expanded, "", want)]
    return [Step(want.host, r, None, "", want)]


def hop_fields(step: Step) -> dict[str, Any]:
    """What a transport needs of a step (config.hosts.Hop's fields): identity files
    expanded as ssh expands them (``~`` the passwd home, then the tokens, then ``${VAR}``)."""
    r = step.resolved
    wanted = (step.asked.identities if step.asked else []) + (
        r.identity_files if r.identity_explicit else []
    )
    files: list[str] = []
    for path in wanted:
        try:
            full = r.expand(path)
        except ValueError as exc:
            raise SshHostError(step.label, 0, f"IdentityFile {path}: {exc}") from None
        if full not in files:
            files.append(full)
    certs: list[str] = []
    for path in r.certificate_files:
        try:
            full = r.expand(path)
        except ValueError as exc:
            raise SshHostError(step.label, 0, f"CertificateFile {path}: {exc}") from None
        if full not in certs:
            certs.append(full)
    return {
        "label": step.label,
        "hostname": r.hostname,
        "port": r.port,
        "user": r.user,
        "identity_files": files,
        "known_hosts": r.known_hosts[0] if r.known_hosts_explicit and r.known_hosts else None,
        "proxy_command": step.proxy_command,
        "hash_known_hosts": r.hash_known_hosts,
        "certificate_files": certs,
    }


def jump_labels(r: Resolved) -> list[str]:
    """The jump hosts of a resolved host as a person lists them."""
    if r.proxy_jump:
        return r.proxy_jump.split(",")
    if r.proxy_command:
        through = ssh_jump_of(r.proxy_command)
        return [through.host] if through else [f"ProxyCommand {r.proxy_command}"]
    return []


def proxy_tokens(r: Resolved) -> dict[str, str]:
    """The tokens of sshconnect.c expand_proxy_command()."""
    return {"h": r.hostname, "k": r.tokens["k"], "n": r.host, "p": str(r.port), "r": r.user}


def expand_proxy_command(r: Resolved) -> str:
    """sshconnect.c expand_proxy_command(), without its ``exec`` prefix."""
    return percent_expand(r.proxy_command or "", proxy_tokens(r))


def ssh_jump_of(raw: str, expand: Callable[[str], str] = str) -> Jump | None:
    """The jump an ``ssh ... -W %h:%p X`` or ``ssh X nc %h %p`` ProxyCommand makes, or None
    when the command is anything else (then it is run as it is). ``expand`` gives the
    tokens of the other words (``-l %r``) their values."""
    try:
        return _ssh_jump_of(raw, expand)
    except ValueError:  # a bad token: let the command run and fail as it would for ssh
        return None


def _ssh_jump_of(raw: str, expand: Callable[[str], str]) -> Jump | None:
    if any(c in SHELL_SPECIALS for c in raw.replace("[%h]", "%h")):
        return None
    try:
        argv = shlex.split(raw, comments=True)
    except ValueError:
        return None
    if argv and argv[0] == "exec":
        argv = argv[1:]
    if not argv or os.path.basename(argv[0]) != "ssh":
        return None
    jump = Jump(host="")
    target: str | None = None
    command: list[str] = []
    args = argv[1:]
    while args:
        arg = args.pop(0)
        if command or (jump.host and not arg.startswith("-")):
            command.append(arg)
            continue
        if not arg.startswith("-") or arg == "-":
            if not _set_host(jump, expand(arg)):
                return None
            continue
        if arg == "--":
            return None
        flags = arg[1:]
        while flags:
            flag, flags = flags[0], flags[1:]
            if flag in NO_ROUTE_FLAGS:
                continue
            if flag not in "lpJiWo":
                return None
            value = flags or (args.pop(0) if args else None)
            flags = ""
            if value is None:
                return None
            if flag != "W":
                value = expand(value)
            if flag == "l" and jump.user is None:
                jump.user = value
            elif flag == "p" and jump.port == -1:
                jump.port = a2port(value)
                if jump.port <= 0:
                    return None
            elif flag == "J" and jump.extra is None:
                jump.extra = value
            elif flag == "i":
                jump.identities.append(value)
            elif flag == "W":
                target = value
            elif flag == "o" and not _option(jump, value):
                return None
    if not jump.host:
        return None
    if target is not None:
        return jump if target in ("%h:%p", "[%h]:%p") and not command else None
    if len(command) == 3 and os.path.basename(command[0]) in ("nc", "netcat", "ncat"):
        return jump if command[1:] == ["%h", "%p"] else None
    return None


def _set_host(jump: Jump, arg: str) -> bool:
    if jump.host:
        return False
    uri = parse_ssh_uri(arg)
    if uri is None:
        return False
    if uri is not False:
        user, host, port = uri  # type: ignore[misc]
        jump.user = jump.user or user
        jump.port = port if jump.port == -1 else jump.port
        jump.host = host
        return True
    user, _, host = arg.rpartition("@")
    if "@" in arg and not user:
        return False
    jump.host = host
    if user and jump.user is None:
        jump.user = user
    return True


def _option(jump: Jump, value: str) -> bool:
    """``-o Key=Value`` in a ProxyCommand's ssh: True when we can take it into the jump."""
    key, sep, val = value.partition("=")
    if not sep:
        key, _, val = value.partition(" ")
    key, val = key.strip().lower(), val.strip()
    if key in NO_ROUTE_O:
        return True
    if key == "user":
        jump.user = jump.user or val
        return True
    if key == "identityfile":
        jump.identities.append(val)
        return True
    if key == "port":
        if jump.port == -1:
            jump.port = a2port(val)
        return jump.port > 0
    if key == "proxyjump":
        ok = all(parse_user_host_port(h) for h in val.split(",")) or val.lower() == "none"
        if jump.extra is None:
            jump.extra = val
        return ok
    return False
