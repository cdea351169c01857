"""Find a run's checkpoints on disk and tell what changed since the last look."""

import os
from typing import Any, Dict, List, Sequence, Tuple

from ..core.checkpoints import DEFAULT_GLOBS, NOTABLE_FILES, step_from_name
from .files import glob_all
from .hoststats import disk

Checkpoint = Dict[str, Any]


def tree_size(path: str) -> Tuple[int, float]:
    """Total bytes under ``path`` and the newest mtime in it."""
    try:
        st = os.stat(path)
    except OSError:
        return 0, 0.0
    if not os.path.isdir(path):
        return st.st_size, st.st_mtime
    total, newest = 0, st.st_mtime
    stack = [path]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    est = entry.stat(follow_symlinks=False)
                    total += est.st_size
                    newest = max(newest, est.st_mtime)
            except OSError:
                continue
    return total, newest


def scan(directory: str, globs: Sequence[str] = ()) -> List[Checkpoint]:
    """Checkpoints under ``directory`` matching ``globs`` (defaults when empty), oldest first."""
    found: Dict[str, Checkpoint] = {}
    for path in glob_all(directory, globs or DEFAULT_GLOBS):
        if path in found or os.path.basename(path).startswith("."):
            continue
        size, mtime = tree_size(path)
        is_dir = os.path.isdir(path)
        found[path] = {
            "path": path,
            "name": os.path.relpath(path, directory),
            "step": step_from_name(os.path.basename(path)),
            "size": size,
            "mtime": mtime,
            "is_dir": is_dir,
            "notable": [
                f for f in NOTABLE_FILES if is_dir and os.path.exists(os.path.join(path, f))
            ],
        }
    # The path last: the same order whichever pattern found a checkpoint first.
    return sorted(
        found.values(), key=lambda c: (c["step"] is None, c["step"] or 0, c["mtime"], c["path"])
    )


def diff(old: Dict[str, Checkpoint], new: List[Checkpoint]) -> List[Dict[str, Any]]:
    """Events turning ``old`` (by path) into ``new``: added, updated (size changed), removed."""
    events: List[Dict[str, Any]] = []
    new_by_path = {c["path"]: c for c in new}
    for path, ckpt in new_by_path.items():
        before = old.get(path)
        if before is None:
            events.append({"kind": "added", "checkpoint": ckpt})
        elif before["size"] != ckpt["size"] or before["notable"] != ckpt["notable"]:
            events.append({"kind": "updated", "checkpoint": ckpt})
    for path, ckpt in old.items():
        if path not in new_by_path:
            events.append({"kind": "removed", "checkpoint": ckpt})
    return events


def listing(directory: str, globs: Sequence[str] = ()) -> Dict[str, Any]:
    return {"directory": directory, "checkpoints": scan(directory, globs), "disk": disk(directory)}
