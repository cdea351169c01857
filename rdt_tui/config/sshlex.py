"""How OpenSSH 9.2 reads one line of ssh_config(5): words, quotes, ``=``, comments, patterns.

Each function mirrors the OpenSSH routine named in its docstring (readconf.c, misc.c,
match.c), because "close to ssh" is not good enough for a tool that connects somewhere:
``Port = 2200`` and ``Port=2200`` are one thing, a ``#`` ends a line only where a word
starts, an unclosed quote refuses the whole file, ``Host`` patterns are case-sensitive but
``Match host`` ones are not.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import socket

WHITESPACE = " \t\r\n"


class SshConfigError(Exception):
    """A file OpenSSH would refuse: names the file and line, what is wrong and a hint."""

    def __init__(self, path: str, line: int, what: str, hint: str = "") -> None:
        self.path, self.line, self.what = path, line, what
        self.hint = hint
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {what}")


class SshHostError(SshConfigError):
    """The file is fine but this host cannot be resolved (a name found nowhere, a loop, a
    bad token): other hosts of the file still work."""


def strdelim(s: str | None) -> tuple[str | None, str | None]:
    """misc.c strdelim(): the next word and the rest. Splits on whitespace or one ``=``;
    a double quote starts a quoted word (an unclosed one gives ``(None, None)``)."""
    if s is None:
        return None, None
    idx = next((i for i, c in enumerate(s) if c in WHITESPACE + '"='), -1)
    if idx < 0:
        return s, None
    if s[idx] == '"':
        t = s[:idx] + s[idx + 1 :]
        end = t.find('"', idx)
        if end < 0:
            return None, None
        return t[:end], t[end + 1 :].lstrip(WHITESPACE)
    saw_equals = s[idx] == "="
    rest = s[idx + 1 :].lstrip(WHITESPACE)
    if rest.startswith("=") and not saw_equals:
        rest = rest[1:].lstrip(WHITESPACE)
    return s[:idx], rest


def argv_split(s: str) -> list[str] | None:
    """misc.c argv_split(s, terminate_on_comment=1): words with quotes and backslash
    escapes; ``#`` at the start of a word ends the line. None on an unclosed quote."""
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        if s[i] in " \t":
            i += 1
            continue
        if s[i] == "#":
            break
        quote, word = "", []
        while i < n:
            c = s[i]
            if c == "\\" and i + 1 < n and (s[i + 1] in "'\"\\" or (not quote and s[i + 1] == " ")):
                i += 1
                word.append(s[i])
            elif not quote and c in " \t":
                break
            elif not quote and c in "\"'":
                quote = c
            elif quote and c == quote:
                quote = ""
            else:
                word.append(c)
            i += 1
        if i >= n and quote:
            return None
        out.append("".join(word))
    return out


def split_line(raw: str) -> tuple[str, str] | None:
    """readconf.c process_config_line_depth(), its first part: ``(keyword, rest)`` with the
    keyword lowercased, or None for a blank or comment line. A keyword with nothing after it
    gives ``rest == ""`` (OpenSSH refuses that)."""
    line = raw.rstrip(WHITESPACE + "\f")
    keyword, rest = strdelim(line)
    if keyword is None:
        return None
    if keyword == "":
        keyword, rest = strdelim(rest)
    if not keyword or keyword[0] in "\n#":
        return None
    return keyword.lower(), (rest or "").lstrip(WHITESPACE)


def match_pattern(s: str, pattern: str) -> bool:
    """match.c match_pattern(): ``*`` and ``?`` only, case-sensitive."""
    return _pattern(pattern).fullmatch(s) is not None


@functools.lru_cache(maxsize=4096)
def _pattern(pattern: str) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL)


def match_pattern_list(s: str, patterns: str, dolower: bool) -> int:
    """match.c match_pattern_list(): 1 on a match, -1 on a negated match, 0 on none."""
    got = 0
    for sub in patterns.split(","):
        negated = sub.startswith("!")
        sub = sub[1:] if negated else sub
        if dolower:
            sub = sub.lower()
        if match_pattern(s, sub):
            if negated:
                return -1
            got = 1
    return got


def match_hostname(host: str, patterns: str) -> bool:
    return match_pattern_list(host.lower(), patterns, True) == 1


def a2port(s: str | None) -> int:
    """misc.c a2port(): 0-65535 or a service name; -1 when neither."""
    if s is None:
        return -1
    if re.fullmatch(r"\s*[+-]?\d+", s):
        value = int(s)
        return value if 0 <= value <= 65535 else -1
    try:
        return socket.getservbyname(s, "tcp")
    except OSError:
        return -1


def _hpdelim(s: str) -> tuple[str | None, str | None, str]:
    """misc.c hpdelim2(): ``(host, rest, delimiter)``; host None when malformed."""
    if s.startswith("["):
        end = s.find("]")
        if end < 0:
            return None, None, ""
        idx = end + 1
    else:
        found = [i for i in (s.find(":"), s.find("/")) if i >= 0]
        idx = min(found) if found else len(s)
    if idx >= len(s):
        return s, None, ""
    if s[idx] not in ":/":
        return None, None, ""
    return s[:idx], s[idx + 1 :], s[idx]


def _clean(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def parse_user_host_port(s: str) -> tuple[str | None, str, int] | None:
    """misc.c parse_user_host_port(): ``[user@]host[:port]`` (or ``[v6]:port``)."""
    user = None
    if "@" in s:
        user, _, s = s.rpartition("@")
        if not user:
            return None
    host, rest, _ = _hpdelim(s)
    if not host:
        return None
    port = -1
    if rest:
        port = a2port(rest)
        if port <= 0:
            return None
    return user, _clean(host), port


def valid_domain(name: str) -> str | None:
    """misc.c valid_domain(): None when valid, else why not."""
    if not name:
        return "empty domain name"
    if not name[0].isascii() or not name[0].isalnum():
        return f'domain name "{name}" starts with invalid character'
    if ".." in name:
        return f'domain name "{name}" contains consecutive separators'
    if any(not (c.isascii() and (c.isalnum() or c in ".-_")) for c in name):
        return f'domain name "{name}" contains invalid characters'
    return None


def parse_ssh_uri(s: str) -> tuple[str | None, str, int] | bool | None:
    """readconf.c parse_ssh_uri(): False when ``s`` is not an ``ssh://`` URI, None when it
    is a bad one, else ``(user, host, port)``."""
    if not s.startswith("ssh://"):
        return False
    s = s[len("ssh://") :]
    user = None
    if "@" in s:
        user, _, s = s.partition("@")
        user = user.split(";", 1)[0]
        if not user:
            return None
        user = _urldecode(user)
        if user is None:
            return None
    host, rest, delim = _hpdelim(s)
    if not host:
        return None
    host = _clean(host)
    if valid_domain(host) is not None:
        return None
    port = -1
    if rest:
        if delim == ":":
            port_s, slash, rest = rest.partition("/")
            port = a2port(port_s)
            if port <= 0:
                return None
            rest = rest if slash else ""
        if rest:
            return None  # a path is not allowed in a ProxyJump URI
    return user, host, port


def _urldecode(s: str) -> str | None:
    out = bytearray()
    i = 0
    raw = s.encode()
    while i < len(raw):
        c = raw[i]
        if c == ord("%"):
            hexpart = raw[i + 1 : i + 3].decode(errors="replace")
            if len(hexpart) != 2 or not all(h in "0123456789abcdefABCDEF" for h in hexpart):
                return None
            out.append(int(hexpart, 16))
            i += 3
            continue
        out.append(ord(" ") if c == ord("+") else c)
        i += 1
    return out.decode(errors="replace")


def percent_expand(s: str, tokens: dict[str, str], dollar: bool = False) -> str:
    """misc.c (dollar_)percent_expand(): ``%x`` from ``tokens``, ``%%``, and ``${VAR}`` when
    ``dollar``. Raises ValueError naming the bad token."""
    import os

    out, i = [], 0
    while i < len(s):
        c = s[i]
        if dollar and s.startswith("${", i):
            end = s.find("}", i + 2)
            if end < 0 or end == i + 2:
                raise ValueError(f"bad environment variable in {s!r}")
            value = os.environ.get(s[i + 2 : end])
            if value is None:
                raise ValueError(f"${{{s[i + 2 : end]}}} in {s!r} has no value")
            out.append(value)
            i = end + 1
            continue
        if c != "%":
            out.append(c)
        elif i + 1 >= len(s):
            raise ValueError(f"{s!r} ends in a lone %")
        elif s[i + 1] == "%":
            out.append("%")
            i += 1
        elif s[i + 1] in tokens:
            out.append(tokens[s[i + 1]])
            i += 1
        else:
            raise ValueError(f"unknown token %{s[i + 1]} in {s!r}")
        i += 1
    return "".join(out)


def fnmatch_any(pattern: str, names: frozenset[str]) -> bool:
    return any(fnmatch.fnmatchcase(n, pattern) for n in names)
