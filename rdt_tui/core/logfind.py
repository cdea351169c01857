"""Find text in a block of log bytes, the way ``less`` does: the line that holds it.

Pure: the agent reads the file (agent/logsearch.py) and hands blocks here; the console uses
:func:`smart_case` too, so what it highlights is what the agent found.

Literal needles go through ``bytes.find`` (memchr and two-way search in C: gigabytes a
second), several needles (the alert words) one ``find`` each, merged, rather than one
regular expression with an alternation, which ``re`` scans position by position.
"""

import re
from typing import List, Optional, Pattern, Sequence, Tuple


def smart_case(pattern: str) -> bool:
    """Whether a search ignores case: yes unless the pattern holds a capital (``less -i``)."""
    return pattern == pattern.lower()


def compile_regex(pattern: str, ignore_case: bool) -> Pattern[bytes]:
    """A pattern on bytes; ``re.error`` for a bad one (the caller says what is wrong)."""
    return re.compile(pattern.encode("utf-8"), re.IGNORECASE if ignore_case else 0)


def match_positions(
    block: "bytes | bytearray",
    needles: Sequence[bytes],
    regex: Optional[Pattern[bytes]] = None,
    backward: bool = False,
    limit: int = 1,
    lo: int = 0,
    hi: Optional[int] = None,
) -> List[int]:
    """Offsets in ``block[lo:hi]`` (indices into ``block``: no copy is made) where a needle
    (or ``regex``) matches, in file order; at most ``limit`` of them, the first ones (or with
    ``backward`` the last ones)."""
    hi = len(block) if hi is None else hi
    found: List[int] = []
    if regex is not None:
        found = [m.start() for m in regex.finditer(block, lo, hi)]
    for needle in () if regex is not None else needles:
        if not needle:
            continue
        n = 0
        if backward:
            pos = block.rfind(needle, lo, hi)
            while pos >= 0 and n < limit:
                found.append(pos)
                n += 1
                # The occurrence before this one (overlapping ones included).
                pos = block.rfind(needle, lo, pos + len(needle) - 1)
        else:
            pos = block.find(needle, lo, hi)
            while pos >= 0 and n < limit:
                found.append(pos)
                n += 1
                pos = block.find(needle, pos + 1, hi)
    found = sorted(set(found))
    return found[-limit:] if backward else found[:limit]


def line_bounds(
    block: "bytes | bytearray", pos: int, lo: int = 0, hi: Optional[int] = None
) -> Tuple[int, int]:
    """Start and end (the ``\\n`` excluded) of the line around ``pos`` inside
    ``block[lo:hi]``; a ``\\r`` (a progress repaint) does not end a line here, as it does
    not in the console."""
    hi = len(block) if hi is None else hi
    start = block.rfind(b"\n", lo, pos) + 1 or lo
    end = block.find(b"\n", pos, hi)
    return max(start, lo), hi if end < 0 else end
