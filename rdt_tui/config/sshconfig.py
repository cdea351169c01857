"""Hosts from an OpenSSH client config (``~/.ssh/config``), resolved the way ``ssh`` does.

Only the options rdt-tui needs are read: HostName, Port, User, IdentityFile, ProxyJump,
UserKnownHostsFile. For each option the first value found wins, across every ``Host`` block
whose patterns match, as in ssh_config(5). ``Include`` is followed (globs, relative to
``~/.ssh``); ``Match`` blocks are skipped, since we cannot evaluate them like ssh does.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import shlex
from dataclasses import dataclass, field

WANTED = {"hostname", "port", "user", "identityfile", "proxyjump", "userknownhostsfile"}
WANTED |= {"hashknownhosts"}  # read by `rdt-tui trust` when it adds a key


class SshConfigError(Exception):
    """A line of the config that cannot be read; names the file and the line."""


@dataclass
class Block:
    patterns: list[str]
    options: list[tuple[str, str]] = field(default_factory=list)
    source: str = ""
    line: int = 0

    def matches(self, name: str) -> bool:
        matched = False
        for pattern in self.patterns:
            negated = pattern.startswith("!")
            if fnmatch.fnmatchcase(name, pattern.lstrip("!")):
                if negated:
                    return False
                matched = True
        return matched


@dataclass
class SshConfig:
    blocks: list[Block]

    def aliases(self) -> list[tuple[str, str, int]]:
        """Every non-wildcard Host name, with the file and line that declares it."""
        seen: dict[str, tuple[str, str, int]] = {}
        for block in self.blocks:
            for pattern in block.patterns:
                if not any(c in pattern for c in "*?!") and pattern not in seen:
                    seen[pattern] = (pattern, block.source, block.line)
        return list(seen.values())

    def options_for(self, name: str) -> dict[str, list[str]]:
        """Options for host ``name``: single-valued ones keep their first value, IdentityFile
        collects every value."""
        out: dict[str, list[str]] = {}
        for block in self.blocks:
            if not block.matches(name):
                continue
            for key, value in block.options:
                if key == "identityfile":
                    out.setdefault(key, []).append(value)
                elif key not in out:
                    out[key] = [value]
        return out


def _tokens(line: str) -> tuple[str, str] | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    if "=" in line.split(None, 1)[0]:
        key, _, value = line.partition("=")
    else:
        parts = line.split(None, 1)
        key, value = parts[0], parts[1] if len(parts) > 1 else ""
    return key.strip().lower(), value.strip()


def load_ssh_config(path: str, _depth: int = 0) -> SshConfig:
    """Parse ``path`` (a missing file is an empty config)."""
    blocks: list[Block] = [Block(patterns=["*"], source=path, line=0)]
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return SshConfig(blocks=[])
    except OSError as exc:
        raise SshConfigError(f"{path}: cannot read: {exc.strerror}") from None
    skipping = False
    for number, raw in enumerate(lines, 1):
        parsed = _tokens(raw)
        if parsed is None:
            continue
        key, value = parsed
        if key == "host":
            try:
                patterns = shlex.split(value)
            except ValueError as exc:
                raise SshConfigError(f"{path}:{number}: bad Host line: {exc}") from None
            if not patterns:
                raise SshConfigError(f"{path}:{number}: `Host` needs at least one name")
            blocks.append(Block(patterns=patterns, source=path, line=number))
            skipping = False
        elif key == "match":
            skipping = True
        elif skipping:
            continue
        elif key == "include" and _depth < 8:
            for pattern in shlex.split(value):
                full = os.path.expanduser(pattern)
                if not os.path.isabs(full):
                    full = os.path.join(os.path.expanduser("~/.ssh"), full)
                for included in sorted(glob.glob(full)):
                    blocks.extend(load_ssh_config(included, _depth + 1).blocks)
        elif key in WANTED:
            if not value:
                raise SshConfigError(f"{path}:{number}: `{key}` needs a value")
            if key == "port" and not value.isdigit():
                raise SshConfigError(f"{path}:{number}: Port must be a number, not {value!r}")
            blocks[-1].options.append((key, value.strip('"')))
    return SshConfig(blocks=blocks)
