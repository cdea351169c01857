"""Search a run's log on the node, so a search over gigabytes ships one line, not the file.

The ``log_search`` op: from a byte offset, forward or backward, the lines holding a pattern
(literal, or a regular expression), each with its offset. The file is read in large blocks
cut at a line end, in a worker thread; each call is bounded in time (``budget_s``) and says
where it stopped (``next``), so the console asks again to go on and can stop asking at any
time; a call cancelled (the link dropped) stops its thread at the next block.
"""

import asyncio
import os
import re
import threading
import time
from typing import Any, Dict, List, Optional, Pattern, Sequence

from ..core.logfind import compile_regex, line_bounds, match_positions, smart_case
from ..protocol import errors
from ..protocol.errors import AgentError

BLOCK = 8 * 1024 * 1024
MAX_TEXT = 4096  # characters of a matching line sent back
MAX_MATCHES = 1000
MAX_BUDGET_S = 30.0


def search(
    path: str,
    needles: Sequence[bytes],
    regex: Optional[Pattern[bytes]],
    ignore_case: bool,
    offset: int,
    backward: bool,
    limit: int,
    budget_s: float,
    cancel: Optional[threading.Event] = None,
) -> Dict[str, Any]:
    """``{"matches", "next", "done", "size"}``: matching lines (``offset`` of the line,
    ``end`` after its newline, ``at`` of the match, ``text``), nearest first; ``done`` when
    the search reached the start or end of the file, else ``next`` is where to go on."""
    deadline = time.monotonic() + budget_s
    matches: List[Dict[str, Any]] = []
    resume: Dict[int, int] = {}  # where the next call goes on after each match (by "at")
    seen = set()
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return {"matches": [], "next": 0, "done": True, "size": 0}
    try:
        size = os.fstat(fd).st_size
        pos = max(0, min(offset, size))
        # A line longer than a block is searched in blocks that overlap by this much, so a
        # match across their edge is found; its "line" then starts at the block's start.
        overlap = 4096 if regex is not None else max(len(n) for n in needles) - 1
        overlap = max(0, min(overlap, BLOCK // 2))
        # Whether the block read starts a line (it does after a block cut at a newline).
        at_line = pos == 0 or os.pread(fd, 1, pos - 1) == b"\n"
        # One buffer read into again and again, searched between bounds: no 8 MiB copies.
        buf = bytearray(BLOCK)
        while len(matches) < limit:
            if backward:
                if pos <= 0:
                    break
                start = max(0, pos - BLOCK)
                n = _read_into(fd, buf, pos - start, start)
                lo, hi = 0, n
                first = buf.find(b"\n", 0, n) if start > 0 else -1
                at_line = start == 0 or 0 <= first < n - 1
                if 0 <= first < n - 1:
                    # A partial first line: it is read whole with the next block back.
                    lo = first + 1
                    step_to = start + lo
                else:
                    step_to = start + overlap if start > 0 else 0
            else:
                if pos >= size:
                    break
                start = pos
                n = _read_into(fd, buf, min(BLOCK, size - pos), pos)
                if n <= 0:
                    break  # the file shrank under us
                lo, hi = 0, n
                cut = buf.rfind(b"\n", 0, n)
                if start + n >= size:
                    step_to = start + n
                elif cut >= 0:
                    hi = cut + 1  # the partial last line opens the next block
                    step_to = start + hi
                else:
                    step_to = start + n - overlap
            if ignore_case and regex is None:
                hay, base = buf[lo:hi].lower(), lo
            else:
                hay, base = buf, 0
            found = match_positions(
                hay, needles, regex, backward, limit - len(matches), lo - base, hi - base
            )
            for at in (p + base for p in found):
                first_byte, end = line_bounds(buf, at, lo, hi)
                if start + first_byte in seen:
                    continue  # two needles on one line: one line found
                seen.add(start + first_byte)
                whole = (first_byte > lo or at_line) and end < hi
                # The next call: past this line, or for a line cut by a block edge, past
                # this match (the same long line may hold more).
                if backward:
                    resume[start + at] = start + first_byte if whole else start + at
                else:
                    resume[start + at] = start + end + 1 if whole else start + at + 1
                text = bytes(buf[first_byte : min(end, first_byte + MAX_TEXT * 4)])
                matches.append(
                    {
                        "offset": start + first_byte,
                        "end": start + min(end + 1, hi),
                        "at": start + at,
                        "text": text.decode("utf-8", "replace")[:MAX_TEXT],
                    }
                )
            if backward:
                matches.sort(key=lambda m: -m["offset"])
            else:
                at_line = hi > 0 and buf[hi - 1] == 10  # b"\n"
            pos = step_to
            if len(matches) >= limit:
                pos = resume[matches[limit - 1]["at"]]
                del matches[limit:]
                break
            if time.monotonic() > deadline or (cancel is not None and cancel.is_set()):
                break
        done = pos <= 0 if backward else pos >= size
        return {"matches": matches, "next": pos, "done": done, "size": size}
    finally:
        os.close(fd)


def _read_into(fd: int, buf: bytearray, n: int, offset: int) -> int:
    """Read ``n`` bytes at ``offset`` into the start of ``buf``; how many came."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, [memoryview(buf)[:n]], offset)
    data = os.pread(fd, n, offset)
    buf[: len(data)] = data
    return len(data)


async def log_search(path: str, args: Dict[str, Any]) -> Dict[str, Any]:
    """The op: ``pattern`` (or ``words``, several literal ones), ``regex``, ``ignore_case``
    (default: smart case), ``offset``, ``direction`` ("forward" or "backward"), ``limit``
    (matching lines), ``budget_s``."""
    words = args.get("words")
    patterns = [str(w) for w in words] if isinstance(words, list) else [str(args["pattern"])]
    if not any(patterns):
        raise AgentError(errors.BAD_REQUEST, "an empty search pattern", "type what to look for")
    ignore = args.get("ignore_case")
    ignore_case = all(smart_case(p) for p in patterns) if ignore is None else bool(ignore)
    regex = None
    if args.get("regex"):
        try:
            regex = compile_regex("|".join(patterns), ignore_case)
        except re.error as exc:
            raise AgentError(
                errors.BAD_REQUEST, f"bad regular expression: {exc}", "fix the pattern"
            ) from None
    needles = [p.encode("utf-8") for p in patterns]
    if ignore_case:
        needles = [n.lower() for n in needles]
    cancel = threading.Event()
    fut = asyncio.get_event_loop().run_in_executor(
        None,
        search,
        path,
        needles,
        regex,
        ignore_case,
        max(0, int(args.get("offset", 0))),
        args.get("direction") == "backward",
        max(1, min(int(args.get("limit", 1)), MAX_MATCHES)),
        max(0.05, min(float(args.get("budget_s", 5.0)), MAX_BUDGET_S)),
        cancel,
    )
    try:
        return await fut
    except asyncio.CancelledError:
        cancel.set()  # the thread stops at its next block
        raise
