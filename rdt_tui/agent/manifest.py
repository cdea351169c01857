"""MD5 manifest of a dataset: relative path -> size and MD5, computed on every core.

hashlib releases the GIL while it hashes a block, so a thread per core reads and hashes files
in parallel without leaving the standard library. Files are taken largest first, so one big
file does not end up alone at the end of the run.
"""

import hashlib
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional

from .files import safe_glob

BLOCK = 1 << 20


def list_files(directory: str, pattern: str = "*") -> List[str]:
    found = safe_glob(directory, "**/" + pattern)
    return sorted(f for f in found if os.path.isfile(f))


def md5_file(path: str, progress: Optional[Callable[[int], None]] = None) -> str:
    digest = hashlib.md5(**_MD5_ARGS)
    with open(path, "rb", buffering=0) as fh:
        buf = bytearray(BLOCK)
        view = memoryview(buf)
        while True:
            n = fh.readinto(buf)
            if not n:
                break
            digest.update(view[:n])
            if progress is not None:
                progress(n)
    return digest.hexdigest()


# MD5 here checks identity, not secrecy: say so where Python lets us (3.9+), so a FIPS
# build does not refuse it.
_MD5_ARGS: Dict[str, Any] = {"usedforsecurity": False} if sys.version_info >= (3, 9) else {}


def manifest(
    directory: str,
    pattern: str = "*",
    workers: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> Dict[str, Any]:
    """``{"root", "files": {relpath: {"size", "md5"} or {"error"}}, "bytes"}``; ``progress``
    gets (bytes done, bytes in all) as blocks are hashed."""
    files = list_files(directory, pattern)
    sizes = {}
    for f in files:
        try:
            sizes[f] = os.path.getsize(f)
        except OSError:
            sizes[f] = 0
    total = sum(sizes.values())
    done = [0]
    lock = threading.Lock()

    def moved(n: int) -> None:
        with lock:
            done[0] += n
            if progress is not None:
                progress(done[0], total)

    def one(path: str) -> Dict[str, Any]:
        try:
            return {"size": sizes[path], "md5": md5_file(path, moved)}
        except OSError as exc:
            return {"error": str(exc)}

    order = sorted(files, key=lambda f: -sizes[f])
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        results = dict(zip(order, pool.map(one, order)))
    return {
        "root": directory,
        "glob": pattern,
        "bytes": total,
        "files": {os.path.relpath(f, directory): results[f] for f in files},
    }
