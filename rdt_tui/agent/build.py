"""The agent's build hash and its zipapp.

The hash covers every source file that ships (``rdt_tui/__init__.py`` and the ``protocol``,
``core`` and ``agent`` packages), so the console can tell whether a node runs exactly its agent
and redeploy when not. The zipapp is named by that hash: ``agent-<hash>.pyz``.
"""

import hashlib
import io
import os
import zipfile
from typing import Iterator, Optional, Tuple

SHIPPED_PACKAGES = ("protocol", "core", "agent")
_EMBEDDED = "_build_id.py"
_cached: Optional[str] = None

MAIN = "import sys\nfrom rdt_tui.agent.main import main\nsys.exit(main())\n"


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shipped_files(root: Optional[str] = None) -> Iterator[Tuple[str, str]]:
    """(archive name, path on disk) of every file that goes into the zipapp, sorted."""
    root = root or _package_root()
    yield "rdt_tui/__init__.py", os.path.join(root, "__init__.py")
    for package in SHIPPED_PACKAGES:
        base = os.path.join(root, package)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith(".py") and name != _EMBEDDED:
                    full = os.path.join(dirpath, name)
                    rel = os.path.relpath(full, os.path.dirname(root)).replace(os.sep, "/")
                    yield rel, full


def compute_hash(root: Optional[str] = None) -> str:
    digest = hashlib.sha256()
    for name, path in shipped_files(root):
        with open(path, "rb") as fh:
            data = fh.read()
        digest.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return digest.hexdigest()[:16]


def build_hash() -> str:
    """This agent's build: embedded in a zipapp, else computed from the source tree."""
    global _cached
    if _cached is None:
        try:
            from . import _build_id  # type: ignore[attr-defined]

            _cached = str(_build_id.BUILD)
        except ImportError:
            _cached = compute_hash()
    return _cached


def zipapp_bytes() -> Tuple[str, bytes]:
    """(build hash, the zipapp's bytes). Deterministic: fixed timestamps, sorted entries."""
    build = compute_hash()
    buf = io.BytesIO()
    buf.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:

        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)

        add("__main__.py", MAIN.encode())
        for name, path in shipped_files():
            with open(path, "rb") as fh:
                add(name, fh.read())
        add("rdt_tui/agent/" + _EMBEDDED, f"BUILD = {build!r}\n".encode())
    return build, buf.getvalue()


def write_zipapp(directory: str) -> str:
    """Write ``agent-<hash>.pyz`` into ``directory`` (atomically) and return its path."""
    from .files import write_atomic

    build, data = zipapp_bytes()
    path = os.path.join(directory, f"agent-{build}.pyz")
    if not os.path.exists(path):
        os.makedirs(directory, exist_ok=True)
        write_atomic(path, data, mode=0o600)
    return path
