"""What the line-by-line parser (``core/metrics.py``) and its fast paths (``core/fastscan.py``,
``core/jsoncols.py``) share: the patterns and step keys of a metric line, and the parser as
the fast paths see it (``LineParser``). The parser calls the fast paths, so they hold it by
this protocol and never import it; both import this module, which imports neither."""

import re
from typing import Any, Dict, List, Optional, Protocol, Tuple, Union

from .parsed import ParsedPoints
from .points import MetricPoint

STEP_KEYS = ("global_step", "step", "iteration", "iter", "it")
_STEP_KEY_SET = frozenset(STEP_KEYS)

# `\d+(?:\.\d*)?` is the language of `\d+\.?\d*` without its two ways of splitting a run of
# digits, which a long run made quadratic (a 16 KiB number before a failing lookahead: 8 s).
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|NaN|NAN|inf|Inf|INF)"
# A key starts only where a run of name characters does (the first letter or `_` of the run:
# where the search used to start it), so a long run is scanned once, not once per character
# (64 KiB of letters in a bar's brackets took 19 s).
_POSTFIX = re.compile(
    r"(?<![\w./-])(?:[^\W_A-Za-z]|[./-])*([A-Za-z_][\w./-]*)=(" + _NUMBER + r")(?=,|$)"
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# Where the parser puts points: a list, or the fast path's ParsedPoints (append, extend).
Sink = Union[List[MetricPoint], ParsedPoints]


class LineParser(Protocol):
    """The state and the reference of ``MetricParser`` that a fast path reads and moves on."""

    fmt: str
    last_step: Optional[int]
    _last_bar: Optional[Tuple[int, List[Tuple[str, str]]]]

    def _parse_one(self, line: str, out: Sink) -> None: ...

    def _json_object(self, obj: Dict[str, Any], out: Sink) -> None: ...
