"""CanonicalizeHostname as ssh.c does it (resolve_canonicalize, check_follow_cname): a name
with at most CanonicalizeMaxDots dots is tried with each CanonicalDomains suffix through the
system resolver (so /etc/hosts counts), and a CNAME is followed only where
CanonicalizePermittedCNAMEs allows it."""

from __future__ import annotations

import socket

from .sshlex import SshHostError, match_pattern_list, valid_domain
from .sshlines import Options
from .sshpass import CANON_ALWAYS, CANON_NO


def canonicalize(host: str, opts: Options, mode: int) -> tuple[str, bool]:
    address = numeric(host)
    if address is not None:
        return (host if address.lower() == host.lower() else address), True
    if is_addr_fast(host) or mode == CANON_NO:
        return host, False
    direct = clear_or_none(opts.proxy_command) and opts.jump_host is None
    if not direct and mode != CANON_ALWAYS:
        return host, False
    max_dots = 1 if opts.max_dots == -1 else opts.max_dots
    candidates: list[str] = []
    if host.endswith("."):
        candidates = [host]
    elif host.count(".") > max_dots:
        return host, False
    else:
        for domain in opts.canonical_domains:
            if domain.lower() == "none":
                break
            candidates.append(f"{host}.{domain}.")
    for full in candidates:
        cname = lookup(full, opts.port, want_cname=True)
        if cname is not None:
            return follow_cname(full[:-1], cname, opts, direct, mode), True
    if opts.fallback_local == 0:
        raise SshHostError(
            host,
            0,
            f'could not resolve host "{host}" in any CanonicalDomains',
            "CanonicalizeFallbackLocal no makes this fatal, as in ssh",
        )
    return host, False


def follow_cname(name: str, cname: str, opts: Options, direct: bool, mode: int) -> str:
    """ssh.c check_follow_cname()."""
    if not cname or not opts.permitted_cnames or name == cname or mode == CANON_NO:
        return name
    if not direct and mode != CANON_ALWAYS:
        return name
    for source, target in opts.permitted_cnames:
        if match_pattern_list(name, source, True) == 1 and (
            match_pattern_list(cname, target, True) == 1
        ):
            return cname
    return name


def clear_or_none(value: str | None) -> bool:
    return value is None or value.lower() == "none"


def is_addr_fast(name: str) -> bool:
    return "%" in name or ":" in name or all(c in "0123456789." for c in name)


def numeric(name: str) -> str | None:
    """ssh.c resolve_addr(): the canonical text of a numeric address, or None."""
    try:
        info = socket.getaddrinfo(name, 22, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        host, _ = socket.getnameinfo(info[0][4], socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)
        return host
    except (OSError, UnicodeError, IndexError):
        return None


def is_addr(name: str) -> bool:
    return is_addr_fast(name) or numeric(name) is not None


def lookup(name: str, port: int, want_cname: bool) -> str | None:
    """ssh.c resolve_host(): None when the name does not resolve, else its canonical name
    ("" when there is none)."""
    try:
        info = socket.getaddrinfo(
            name, port if port > 0 else 22, type=socket.SOCK_STREAM, flags=socket.AI_CANONNAME
        )
    except (OSError, UnicodeError):
        return None
    cname = info[0][3] if info else ""
    return cname if cname and not _bad_cname(cname) else ""


def _bad_cname(name: str) -> bool:
    return valid_domain(name) is not None
