"""The named formats whose metric line has one shape, as whole-line patterns: each its
matcher in ``core/formats.py`` made to take a whole line, ``(?:SHAPE|[^\\n]*)\\n`` (a line
of the shape, its values in groups, or any other line, all groups empty). ``core/fastscan.py``
reads a chunk's ``str`` lines with them by ``findall``; ``core/shapescan.py`` cuts a read's
bytes at the lines of the shape with the same patterns made to split.
"""

import re
from typing import Dict, Optional, Tuple

from .formats import _NUM, _PAIR

_PATTERNS: "Dict[Tuple[str, ...], re.Pattern[str]]" = {}


def _remember(key: Tuple[str, ...], pattern: str) -> "re.Pattern[str]":
    """``pattern`` compiled and kept under ``key``, the cache bounded (a job that changes its
    keys every chunk)."""
    if len(_PATTERNS) > 32:
        _PATTERNS.clear()
    pat = _PATTERNS[key] = re.compile(pattern)
    return pat


# Named formats whose metric line has one shape, read by one regex per chunk like the bars:
# (the pattern, (name, group) of each value); group 1 is the step. Each pattern is its
# matcher in core/formats.py made to take a whole line: ``\s`` that cannot pass a line end,
# the text before the match unable to hold an earlier one (the matcher searches).
_SHAPES = {
    "libero": (
        re.compile(
            r"(?:[^\n]*?\[info\] Epoch:[^\S\n]*(\d+) \| train loss:[^\S\n]*(" + _NUM + r")"
            r"(?: \| time:[^\S\n]*(" + _NUM + r"))?[^\n]*|[^\n]*)\n"
        ),
        (("train_loss", 1), ("epoch_minutes", 2)),
    ),
    "gesturelsm-rvq": (
        # The whole rest of the line is the fields: the matcher finds them anywhere in it.
        re.compile(
            r"(?:[^\n.]*(?:Warmup|Train)\. Iter (\d+) :[ \t]*(?:lr[ \t]+(" + _NUM + r")[ \t]+)?"
            r"Commit\.[ \t]+(" + _NUM + r")[ \t]+PPL\.[ \t]+(" + _NUM + r")[ \t]+"
            r"Recons\.[ \t]+(" + _NUM + r")[ \t]*|[^\n]*)\n"
        ),
        (("lr", 1), ("commit", 2), ("perplexity", 3), ("recons", 4)),
    ),
}
SHAPED = frozenset([*_SHAPES, "gesturelsm"])
_NEEDLES = {"libero": "[info] Epoch", "gesturelsm-rvq": "Iter ", "gesturelsm": "]["}
# GestureLSM's generative `[epoch][it/len]  name: value ...`: a pattern per list of names.
_GEN_ANY = re.compile(r"\[\d{3,}\]\[\d+/\d+\]\s+(.*)")


def _gen_shape(text: str) -> "Optional[Tuple[re.Pattern[str], Tuple[Tuple[str, int], ...]]]":
    """The pattern of the chunk's first ``[epoch][it/len]`` line's names: groups epoch, it,
    len, then the values; the text before it holds no ``[`` (the matcher's first match) and
    no ``>`` (a `Validation Results >>>>` line is read otherwise); the rest is the pairs."""
    found = _GEN_ANY.search(text)
    if found is None:
        return None
    keys = tuple(k for k, _ in _PAIR.findall(found.group(1)))
    if not keys:
        return None
    cache_key = ("[gen]",) + keys  # noqa: RUF005 (a star in a subscript is 3.11 syntax)
    pat = _PATTERNS.get(cache_key)
    if pat is None:
        pairs = r"[ \t]+".join(re.escape(k) + r":[ \t]+(" + _NUM + ")" for k in keys)
        pat = _remember(
            cache_key,
            r"(?:[^\n\[>\x1b]*\[(\d{3,})\]\[(\d+)/(\d+)\][ \t]+" + pairs + r"[ \t]*|[^\n]*)\n",
        )
    return pat, tuple((k, 3 + i) for i, k in enumerate(keys))


def shape_of(
    fmt: str, text: str
) -> "Optional[Tuple[re.Pattern[str], Tuple[Tuple[str, int], ...]]]":
    """The whole-line pattern and its fields for ``fmt``'s lines: the format's own, or for
    GestureLSM's generative lines the one of ``text``'s first ``[epoch][it/len]`` line."""
    return _gen_shape(text) if fmt == "gesturelsm" else _SHAPES[fmt]
