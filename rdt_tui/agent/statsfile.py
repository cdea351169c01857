"""Writing a statistics file that people also edit by hand and other programs rewrite.

- One writer at a time: ``flock`` on ``FILE.lock`` beside it, held from the read of the old
  content to the replace, so two writes of different entries both land (the second reads
  what the first wrote). The wait for it is bounded.
- A program that does not take the lock (an editor, RoboTwin's ``finetune.sh`` running the
  project's own script) may still rewrite the file meanwhile: the content read at the start is
  compared with the content just before the atomic replace, and a difference refuses the write.
- Every write keeps the previous content in a backup whose name is new: ``FILE.bak-STAMP``,
  then ``-2``, ``-3``... created with ``O_EXCL``, so no backup (of a hand-edited original, say)
  is ever overwritten, even by two writes in the same second.
"""

import contextlib
import fcntl
import os
import time
from typing import Iterator, Optional

from ..protocol import errors
from ..protocol.errors import AgentError
from .files import write_atomic


def read_bytes(path: str) -> Optional[bytes]:
    """The file's content, or None when it does not exist."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def locked(path: str, deadline: float) -> Iterator[None]:
    """Hold the writers' lock of ``path`` (``time.monotonic()`` ``deadline`` for getting it)."""
    lock_path = path + ".lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise AgentError(
            errors.STATS_UNWRITABLE,
            f"cannot create the lock file {lock_path}: {exc.strerror}; {path} was left unchanged",
            "fix the directory's permissions, or point preflight.stats_file elsewhere",
        ) from None
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise AgentError(
                        errors.STATS_FAILED,
                        f"another statistics write to {path} still holds {lock_path}; "
                        "nothing was written",
                        "wait for it to finish, then run this one again",
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def backup(path: str, data: bytes) -> str:
    """Keep ``data`` in a backup named for this second, never reusing an existing name."""
    stamp = "{}.bak-{}".format(path, time.strftime("%Y%m%d-%H%M%S"))
    for n in range(1, 10000):
        name = stamp if n == 1 else f"{stamp}-{n}"
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return name
    raise AgentError(errors.STATS_UNWRITABLE, f"no free backup name for {path}", "")


def commit(path: str, expected: Optional[bytes], data: bytes, mode: int) -> Optional[str]:
    """Back up ``expected`` (what was read at the start; None: no file then) and atomically
    replace ``path`` by ``data``, unless the file no longer holds ``expected``. Returns the
    backup's name."""
    if read_bytes(path) != expected:
        raise AgentError(
            errors.STATS_FAILED,
            f"{path} changed while the statistics were computed (another program wrote it); "
            "it was left as that program wrote it",
            "look at the change, then compute the statistics again",
        )
    saved = backup(path, expected) if expected is not None else None
    write_atomic(path, data, mode=mode)
    return saved
