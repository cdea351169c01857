"""Saving a host into a hosts file (the console's host form, ``rdt-tui ssh add``): one
``[[hosts]]`` table added or replaced, every other table and comment kept, the result checked
by the same rules as on load (hosts.py) before it replaces the file."""

from __future__ import annotations

import os
from typing import Any

import tomllib

from .files import toml_string, write_text_atomic
from .hosts import HostsError, _as_list, load_hosts_file, parse_hosts_text
from .paths import config_dir

HOST_KEYS = ("name", "hostname", "user", "port", "jump", "python", "state_dir", "identity_file")


def user_hosts_file() -> str:
    """The hosts file the console writes (the user's; the project's is left to git)."""
    return os.path.join(config_dir(), "hosts.toml")


def host_table(fields: dict[str, Any]) -> str:
    """One ``[[hosts]]`` table from form fields; empty fields are left out (defaults)."""
    lines = ["[[hosts]]"]
    for key in HOST_KEYS:
        value = fields.get(key)
        if value in (None, "", []):
            continue
        if key == "port":
            lines.append(f"port = {int(value)}")
        elif key == "jump":
            hops = _as_list(value)
            lines.append("jump = [" + ", ".join(toml_string(h) for h in hops) + "]")
        else:
            lines.append(f"{key} = {toml_string(str(value))}")
    return "\n".join(lines) + "\n"


def _tables(text: str) -> list[str]:
    """The file cut before each line that opens a table: the preamble, then one piece per
    table."""
    pieces: list[str] = [""]
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("["):
            pieces.append("")
        pieces[-1] += line
    return pieces


def _trailing_comments(piece: str) -> str:
    """The blank and comment lines that end a table's text: they introduce the next table."""
    lines = piece.splitlines(keepends=True)
    keep = len(lines)
    while keep > 1 and (not lines[keep - 1].strip() or lines[keep - 1].lstrip().startswith("#")):
        keep -= 1
    return "".join(lines[keep:])


def save_host(path: str, fields: dict[str, Any], replaces: str | None = None) -> None:
    """Add a host to ``path``, or replace the entry named ``replaces``; every other table and
    comment is kept as it was. The new file is checked before it replaces the old one, so a
    bad value is refused with the file untouched."""
    name = str(fields.get("name") or "").strip()
    if not name or any(c.isspace() for c in name):
        raise HostsError("a host needs a name without spaces")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        text = ""
    existing = {e.name for e in load_hosts_file(path)}
    if name in existing and name != replaces:
        raise HostsError(f"{path}: a host named {name!r} is already there")
    try:
        table = host_table(dict(fields, name=name))
    except (TypeError, ValueError):
        raise HostsError("the port must be a number and jump a comma-separated list") from None
    pieces, placed = [], False
    for piece in _tables(text):
        if replaces is not None and not placed and _names_host(piece, replaces):
            pieces.append(table + _trailing_comments(piece))
            placed = True
        else:
            pieces.append(piece)
    if not placed:
        if "".join(pieces).strip() and not pieces[-1].endswith("\n\n"):
            pieces.append("\n" if pieces[-1].endswith("\n") else "\n\n")
        pieces.append(table)
    new_text = "".join(pieces)
    parse_hosts_text(new_text, path)  # the same rules as on load: a bad entry never lands
    write_text_atomic(path, new_text)


def _names_host(piece: str, name: str) -> bool:
    try:
        data = tomllib.loads(piece.replace("[[hosts]]", "[host]", 1))
    except tomllib.TOMLDecodeError:
        return False
    host = data.get("host")
    return isinstance(host, dict) and host.get("name") == name
