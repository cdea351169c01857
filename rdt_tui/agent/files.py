"""Where the agent keeps its state, and how it writes files so none is ever half-written."""

import json
import os
import tempfile
from typing import Any, Optional

STATE_ENV = "RDT_TUI_STATE_DIR"


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
