"""The ssh config as lines and values: each file's lines checked once (``parse_lines``, what
ssh refuses whatever the host), the ``Options`` a pass (sshpass.py) fills, and the parsers of
the keywords that need more than a check: ProxyJump, CanonicalizePermittedCNAMEs, Include and
HostName's tokens."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from .sshkeywords import KEYWORDS, check_value, valid_domains
from .sshlex import (
    SshHostError,
    argv_split,
    parse_ssh_uri,
    parse_user_host_port,
    percent_expand,
    split_line,
)


@dataclass
class Options:
    """The part of OpenSSH's ``Options`` that decides where and as whom we connect."""

    hostname: str | None = None
    port: int = -1
    user: str | None = None
    identity_files: list[str] = field(default_factory=list)
    certificate_files: list[str] = field(default_factory=list)
    proxy_command: str | None = None
    jump_host: str | None = None
    jump_user: str | None = None
    jump_port: int = -1
    jump_extra: str | None = None
    known_hosts: list[str] = field(default_factory=list)
    host_key_alias: str | None = None
    canonicalize: int = -1
    canonical_domains: list[str] = field(default_factory=list)
    max_dots: int = -1
    fallback_local: int = -1
    permitted_cnames: list[tuple[str, str]] = field(default_factory=list)
    ignore_unknown: str | None = None
    hash_known_hosts: int = -1


@dataclass
class Line:
    """One line of a config file as ssh reads it, checked once: ``error`` is (what, hint)
    for a line ssh refuses whatever the host; ``kind`` None for an unknown keyword (which
    IgnoreUnknown may still excuse)."""

    number: int
    keyword: str
    rest: str
    args: list[str]
    kind: str | None
    error: tuple[str, str] | None = None


def parse_lines(lines: list[str]) -> list[Line]:
    """Every non-blank, non-comment line of a file, with what ssh would say about it."""
    out = []
    for number, raw in enumerate(lines, 1):
        if number == len(lines) and raw == "":
            break
        parsed = split_line(raw)
        if parsed is None:
            continue
        keyword, rest = parsed
        kind = KEYWORDS.get(keyword)
        line = Line(number, keyword, rest, [], kind)
        out.append(line)
        if not rest:
            line.error = (f'no argument after keyword "{keyword}"', "give it a value or remove it")
            continue
        args = argv_split(rest)
        if args is None:
            line.error = ("invalid quotes", "close the quote on that line")
            continue
        line.args = args
        if kind is not None:
            line.error = static_error(keyword, kind, args, rest)
    return out


def static_error(keyword: str, kind: str, args: list[str], rest: str) -> tuple[str, str] | None:
    why = check_value(keyword, kind, args)
    if why:
        return f"{keyword}: {why}", ""
    if keyword == "proxyjump":
        text = rest.lstrip(" \t\r\n=")
        if not parse_jump(text, Options(), False):
            return f'Invalid ProxyJump "{text}"', "use [user@]host[:port][,...]"
    elif keyword in ("identityfile", "identityfile2", "certificatefile"):
        if not args or not args[0]:
            return "Missing argument.", ""
        if len(args) > 1:
            return f"keyword {keyword} extra arguments at end of line", ""
    elif keyword == "canonicaldomains":
        why = valid_domains(args)
        if why:
            return why, ""
    elif keyword == "canonicalizepermittedcnames":
        try:
            cname_rules(args)
        except ValueError as exc:
            return str(exc), "use SOURCE:TARGET patterns"
    return None


def cname_rules(args: list[str]) -> list[tuple[str, str]]:
    """CanonicalizePermittedCNAMEs: ``none`` alone, ``*``, or SOURCE:TARGET pattern lists."""
    rules = []
    for i, arg in enumerate(args):
        if arg.lower() == "none":
            if i > 0 or len(args) > 1:
                raise ValueError('"none" argument must appear alone.')
            rules.append(("", ""))
        elif arg == "*":
            rules.append(("*", "*"))
        else:
            source, colon, target = arg.lower().partition(":")
            if not colon or not target:
                raise ValueError(f'Invalid permitted CNAME "{arg}"')
            rules.append((source, target))
    return rules


def include_paths(args: list[str], user_conf: bool) -> list[str]:
    """Include's files in ssh's order: each argument's glob sorted, relative ones under
    ~/.ssh (glob's ``~`` is $HOME, as glibc's GLOB_TILDE has it) or /etc/ssh."""
    out: list[str] = []
    for arg in args:
        if not os.path.isabs(arg) and not arg.startswith("~"):
            arg = ("~/.ssh/" if user_conf else "/etc/ssh/") + arg
        out.extend(sorted(glob.glob(os.path.expanduser(arg))))
    return out


def parse_jump(text: str, o: Options, active: bool) -> bool:
    """readconf.c parse_jump(): only the last hop is kept (with the others as jump_extra)."""
    active = active and o.proxy_command is None and o.jump_host is None
    spec = text.split("#", 1)[0].rstrip(" \t\r\n")
    if text.lower() != "none":
        hops = spec.split(",")
        for i, hop in enumerate(reversed(hops)):
            parsed = parse_ssh_uri(hop)
            if parsed is False:
                parsed = parse_user_host_port(hop)
            if not parsed:
                return False
            if i == 0 and active:
                o.jump_user, o.jump_host, o.jump_port = parsed  # type: ignore[misc]
    if active:
        if text.lower() == "none":
            o.jump_host, o.jump_port = "none", 0
        else:
            o.proxy_command = "none"
            if "," in text and not text.startswith(","):
                o.jump_extra = text[: text.rfind(",")]
    return True


def expand_hostname(hostname: str, host: str) -> str:
    try:
        return percent_expand(hostname, {"h": host})
    except ValueError as exc:
        raise SshHostError(host, 0, f"HostName: {exc}", "only %h and %% work in HostName") from None
