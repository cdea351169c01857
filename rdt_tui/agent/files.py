"""Where the agent keeps its state, and how it writes files so none is ever half-written."""

import fnmatch
import functools
import glob
import json
import os
import re
import tempfile
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

STATE_ENV = "RDT_TUI_STATE_DIR"
# How deep ``**`` goes below the directory it starts from.
MAX_DEPTH = 40


def state_dir() -> str:
    """``$RDT_TUI_STATE_DIR``, else ``$XDG_STATE_HOME/rdt-tui``, else ``~/.local/state/rdt-tui``."""
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return explicit
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(base, "rdt-tui")


def ensure_private_dir(path: str) -> str:
    """Create ``path`` (and parents) and make it 0700 whatever the umask said."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_atomic(path: str, data: bytes, mode: int = 0o600, durable: bool = True) -> None:
    """Write to a temporary file beside ``path``, fsync (unless not ``durable``), then rename
    over it: a reader sees the old content or the new, never a mix."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json_atomic(path: str, obj: Any, durable: bool = True) -> None:
    data = (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8")
    write_atomic(path, data, durable=durable)


class CorruptFile(Exception):
    """A state file exists but does not hold what it should."""


def read_json(path: str) -> Optional[Any]:
    """The JSON in ``path``; None when it does not exist; CorruptFile when it is not JSON."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptFile(f"{path} is not valid JSON ({exc})") from None


def safe_glob(
    directory: str,
    pattern: str,
    max_depth: int = MAX_DEPTH,
    listings: Optional[Dict[str, List["os.DirEntry[str]"]]] = None,
) -> List[str]:
    """``glob.glob(directory/pattern, recursive=True)``, minus its hazards.

    ``**`` never enters a symlinked directory and stops ``max_depth`` levels down: two
    symlinks pointing back up (``a -> ..``) make ``glob`` walk for ever, this walk ends.
    A symlinked directory named by an explicit part of the pattern (``data/*.hdf5`` where
    ``data`` is a link) is still entered: the pattern's length bounds that. Hidden names
    match only a part that starts with a dot, as in ``glob``. Unreadable directories are
    skipped. The order is the directory's, as with ``glob``.

    ``listings``: directory listings by path, shared by the calls given the same dict (the
    patterns of one look at a directory list it once, not once each)."""
    if os.path.isabs(pattern):
        directory, pattern = "/", pattern
    parts = [p for p in pattern.split("/") if p not in ("", ".")]
    found: List[str] = []
    seen: Set[str] = set()
    listed: Dict[str, List[Any]] = {} if listings is None else listings

    def entries(path: str) -> List["os.DirEntry[str]"]:
        return _listing(listed, path)

    def add(path: str) -> None:
        if path not in seen:
            seen.add(path)
            found.append(path)

    def visit(path: str, i: int, depth: int) -> None:
        part, last = parts[i], i == len(parts) - 1
        if part == "**":
            if not last:
                visit(path, i + 1, depth)  # ** matches no directory at all, too
            if depth >= max_depth:
                return
            for entry in entries(path):
                if entry.name.startswith("."):
                    continue
                if last:
                    add(entry.path)
                if _is_dir(entry, follow=False):
                    visit(entry.path, i, depth + 1)
            return
        if not glob.has_magic(part):
            child = os.path.join(path, part)
            if last:
                if os.path.lexists(child):
                    add(child)
            elif os.path.isdir(child):
                visit(child, i + 1, depth + 1)
            return
        match = _name_matcher(part)
        for entry in entries(path):
            if entry.name.startswith(".") and not part.startswith("."):
                continue
            if not match(entry.name):
                continue
            if last:
                add(entry.path)
            elif _is_dir(entry, follow=True):
                visit(entry.path, i + 1, depth + 1)

    if parts:
        visit(directory, 0, 0)
    return found


def glob_all(
    directory: str,
    patterns: Sequence[str],
    listings: Optional[Dict[str, List["os.DirEntry[str]"]]] = None,
) -> List[str]:
    """What :func:`safe_glob` finds for each of ``patterns`` in turn, each directory listed
    once: the one-name patterns (the checkpoint defaults) matched together in one pass
    (:func:`match_names`), first; a path found by two patterns comes twice."""
    listed: Dict[str, List[Any]] = {} if listings is None else listings
    names = [p for p in patterns if one_name_pattern(p)]
    paths = match_names(directory, names, listed)
    for pattern in patterns:
        if pattern not in names:
            paths += safe_glob(directory, pattern, listings=listed)
    return paths


def match_names(
    directory: str,
    patterns: Sequence[str],
    listings: Optional[Dict[str, List["os.DirEntry[str]"]]] = None,
) -> List[str]:
    """What ``safe_glob(directory, p)`` finds for each ``p`` of ``patterns``, each one name
    with a wildcard and no ``/`` nor leading dot, together: one pass over the listing, one
    match of all the patterns per name (a checkpoint directory of thousands of entries is
    looked at every few seconds). In the directory's order, each path once."""
    if not patterns:
        return []
    listed: Dict[str, List[Any]] = {} if listings is None else listings
    match = _names_matcher(tuple(sorted(patterns)))
    return [
        e.path for e in _listing(listed, directory) if not e.name.startswith(".") and match(e.name)
    ]


def one_name_pattern(pattern: str) -> bool:
    """Whether ``pattern`` is one name with a wildcard, as :func:`match_names` takes."""
    return (
        "/" not in pattern
        and pattern != "**"  # safe_glob's recursive walk
        and not pattern.startswith(".")
        and glob.has_magic(pattern)
    )


@functools.lru_cache(maxsize=256)
def _name_matcher(part: str) -> Callable[[str], Any]:
    """``fnmatch.fnmatchcase(name, part)`` as one compiled match (no call per name to it)."""
    return re.compile(fnmatch.translate(part)).match


@functools.lru_cache(maxsize=64)
def _names_matcher(parts: Tuple[str, ...]) -> Callable[[str], Any]:
    """Whether a name matches any of ``parts`` (as fnmatchcase), by one compiled match: each
    translation is anchored at its own end (``\\Z``), the match at the start."""
    return re.compile("|".join(fnmatch.translate(p) for p in parts)).match


def _listing(listed: Dict[str, List[Any]], path: str) -> List["os.DirEntry[str]"]:
    """``path``'s entries, listed once per ``listed`` (the calls of one look share it)."""
    got = listed.get(path)
    if got is None:
        got = listed[path] = _entries(path)
    return got


def _entries(path: str) -> List["os.DirEntry[str]"]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []


def _is_dir(entry: "os.DirEntry[str]", follow: bool) -> bool:
    try:
        return entry.is_dir(follow_symlinks=follow)
    except OSError:
        return False
