"""The daemon's own log, and the supervision of its background tasks.

``agent.log`` is capped: past ``MAX_BYTES`` it moves to ``agent.log.1`` (the one old file kept)
and a new one starts, so a fault that repeats every millisecond cannot fill the disk. The same
error repeated is written once per ``REPEAT_S`` with a count of the copies left out, never
once per occurrence. A background task (a run's watcher, the GPU sampler, a subscription) runs
under :func:`supervised`: an exception is logged that way and the task starts again after a
growing pause, so a transient fault (out of descriptors, disk full) is survived, never silent.
"""

import asyncio
import json
import os
import sys
import time
import traceback
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

MAX_BYTES = 5 * 1024 * 1024
REPEAT_S = 60.0
BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
# A task that ran this long without failing starts its backoff from the beginning again.
HEALTHY_S = 60.0


class AgentLog:
    """Lines of JSON to stderr, rotated when stderr is ``path`` (the detached daemon's case)."""

    def __init__(self, path: Optional[str] = None, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.owns_stderr = path is not None and _same_file(2, path)
        # key -> (time last written, copies left out since)
        self._seen: Dict[str, Tuple[float, int]] = {}
        self.dropped = 0

    def info(self, message: str) -> None:
        self._write({"t": time.time(), "msg": message})

    def error(self, key: str, message: str, detail: str = "") -> None:
        """Log an error; the same ``key`` again within ``REPEAT_S`` is only counted."""
        now = time.time()
        last, skipped = self._seen.get(key, (0.0, 0))
        if now - last < REPEAT_S:
            self._seen[key] = (last, skipped + 1)
            return
        if len(self._seen) > 1000:  # keys are few in practice; never let them grow unbounded
            self._seen.clear()
        self._seen[key] = (now, 0)
        record: Dict[str, Any] = {"t": now, "level": "error", "msg": message}
        if skipped:
            record["repeated"] = skipped
            record["msg"] += f" (and {skipped} more times in the last {now - last:.0f}s)"
        if detail:
            record["detail"] = detail
        self._write(record)

    def exception(self, key: str, what: str, exc: BaseException) -> None:
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.error(key, f"{what}: {type(exc).__name__}: {exc}", detail[-4000:])

    def _write(self, record: Dict[str, Any]) -> None:
        data = (json.dumps(record, default=str) + "\n").encode("utf-8", "replace")
        try:
            if self.owns_stderr and self.path is not None:
                self._rotate_if_full(len(data))
            os.write(2, data)
        except OSError:
            self.dropped += 1  # a full disk: nothing to be done here, and nothing to raise

    def _rotate_if_full(self, incoming: int) -> None:
        assert self.path is not None
        if os.fstat(2).st_size + incoming <= self.max_bytes:
            return
        os.replace(self.path, self.path + ".1")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            # Both stdout and stderr: a traceback from anywhere in the process lands here too.
            os.dup2(fd, 1)
            os.dup2(fd, 2)
        finally:
            os.close(fd)
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def _same_file(fd: int, path: str) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def backoff(attempt: int) -> float:
    return BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]


def on_the_tick(period: float, now: float) -> float:
    """Seconds from ``now`` (time.monotonic, the event loop's clock) to the next multiple of
    ``period``, at least a quarter period away. The daemon's periodic tasks (each run's
    watcher, the GPU sampler, the socket check) wait with it, so those due in the same second
    wake the loop once together, not once each."""
    wait = period - now % period
    return wait + period if wait < period / 4 else wait


async def supervised(name: str, body: Callable[[], Awaitable[None]], log: AgentLog) -> None:
    """Run ``body`` until it returns; after an exception, log it and run it again later."""
    attempt = 0
    while True:
        started = time.monotonic()
        try:
            await body()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # whatever it was, the task must come back
            if time.monotonic() - started > HEALTHY_S:
                attempt = 0
            key = f"{name}:{type(exc).__name__}:{exc}"
            log.exception(key, f"{name} failed, retrying in {backoff(attempt):.1f}s", exc)
            await asyncio.sleep(backoff(attempt))
            attempt += 1
