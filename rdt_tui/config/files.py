"""Writing the user's files on the console side: atomically, so a crash or a full disk never
leaves one half-written, and TOML strings quoted so any text round-trips."""

from __future__ import annotations

import os
import tempfile


def write_text_atomic(path: str, text: str | bytes, mode: int = 0o600) -> None:
    """Write beside ``path``, flush to disk, then rename over it; the old file stays whole
    until the new one is complete."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def toml_string(text: str) -> str:
    """A TOML basic string holding ``text`` exactly (control characters escaped)."""
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
