"""Metric line formats of the projects our users train (see shared/reference): each a
function from a line to points, or None when the line is not one of its own.

- ``rdt``: the tqdm bar (handled by the generic parser) and the sample dicts logged as
  ``... - INFO - __main__ - {'agilex_sample_mse': 0.0123, 'overall_avg_sample_mse': ...}``
  (``[RANK 0] `` before the dict with accelerate 1.x's logger);
- ``dp`` (Diffusion Policy): ``logs.json.txt`` JSON lines (the generic JSON parser);
- ``gesturelsm-rvq``: ``Train. Iter N : \\t Commit. x \\t PPL. y \\t Recons.  z`` (and
  ``Warmup.`` lines with ``lr``);
- ``gesturelsm``: `` [012][034/311]  predict_x0_loss: 0.123 ...`` and
  ``Validation Results >>>> fgd: 0.410 bc: 0.738 l1div: 12.575``;
- ``libero``: ``[info] Epoch:  12 | train loss:  0.53 | time: 1.20``.

``auto`` tries them all. Each format declares what else it takes (:class:`Format`: JSON lines,
tqdm bars, guessed ``key=value`` pairs); a new format is one entry in :data:`FORMATS`, and the
generic parser in ``core/metrics.py`` is not edited.
"""

import ast
import re
from typing import Callable, Dict, List, NamedTuple, Optional, Protocol, Tuple

from .points import MetricPoint, as_step


class ParseState(Protocol):
    """What a matcher reads and sets on the parser that calls it (``core.metrics.MetricParser``;
    named by this protocol, so this module does not import the parser)."""

    last_step: Optional[int]
    fast: bool


Matcher = Callable[[str, ParseState], Optional[List[MetricPoint]]]

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|inf|-inf"  # see _NUMBER
_RVQ = re.compile(r"(Warmup|Train)\. Iter (\d+) :(.*)")
_RVQ_FIELDS = re.compile(r"(lr|Commit\.|PPL\.|Recons\.)\s+(" + _NUM + r")")
_GEN = re.compile(r"\[(\d{3,})\]\[(\d+)/(\d+)\]\s+(.*)")
_PAIR = re.compile(r"([A-Za-z_][\w/.-]*):\s+(" + _NUM + r")")
_VALID = re.compile(r"Validation Results >>>> (.*)")
_LIBERO = re.compile(
    r"\[info\] Epoch:\s*(\d+) \| train loss:\s*(" + _NUM + r")(?: \| time:\s*(" + _NUM + r"))?"
)
# accelerate's get_logger (1.x) puts `[RANK 0] ` before the message.
_SAMPLE = re.compile(r"- INFO - [\w.]+ - (?:\[RANK \d+\] )?(\{'.*_sample_mse'.*\})\s*$")
# A dict repr of names and numbers as Python prints them: no leading zero, no `_`, ASCII
# digits, an integer under 301 digits (it stays an exact float).
_PLAIN_NUM = r"-?(?:0|[1-9][0-9]{0,299})(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?"
_PLAIN_DICT = re.compile(
    r"\{'[A-Za-z_]\w*': " + _PLAIN_NUM + r"(?:, '[A-Za-z_]\w*': " + _PLAIN_NUM + r")*\}",
    re.ASCII,
)
_PLAIN_ITEM = re.compile(r"'([A-Za-z_]\w*)': (" + _PLAIN_NUM + ")", re.ASCII)
_RVQ_NAMES = {"lr": "lr", "Commit.": "commit", "PPL.": "perplexity", "Recons.": "recons"}


def _point(name: str, value: str, step: Optional[int]) -> MetricPoint:
    return MetricPoint(name, float(value), step)


def _plain_number(text: str) -> float:
    """A number of ``_PLAIN_NUM`` as literal_eval then ``float(str(...))`` reads it: an
    integer through int (so ``-0`` is 0.0, as ``str(-0)`` is ``0``)."""
    if "." in text or "e" in text:
        return float(text)
    return float(int(text))


def rvq(line: str, p: ParseState) -> Optional[List[MetricPoint]]:
    if "Iter " not in line:
        return None
    m = _RVQ.search(line)
    if m is None:
        return None
    step = as_step(m.group(2))
    if step is None:
        return []  # an absurd step: the line is ours, but gives nothing
    p.last_step = step
    return [_point(_RVQ_NAMES[k], v, step) for k, v in _RVQ_FIELDS.findall(m.group(3))]


def gesture_gen(line: str, p: ParseState) -> Optional[List[MetricPoint]]:
    if "Validation Results >>>>" in line:
        m = _VALID.search(line)
        if m is not None:
            return [_point("val/" + k, v, p.last_step) for k, v in _PAIR.findall(m.group(1))]
    if "][" not in line:
        return None
    m = _GEN.search(line)
    if m is None:
        return None
    epoch, it, length = int(m.group(1)), int(m.group(2)), int(m.group(3))
    step = as_step(epoch * length + it)  # iterations since the start: the x axis of the chart
    if step is None:
        return []
    p.last_step = step
    out = [_point(k, v, step) for k, v in _PAIR.findall(m.group(4))]
    out.append(_point("epoch", str(epoch), step))
    return out


def libero(line: str, p: ParseState) -> Optional[List[MetricPoint]]:
    if "[info] Epoch" not in line:
        return None
    m = _LIBERO.search(line)
    if m is None:
        return None
    step = as_step(m.group(1))
    if step is None:
        return []
    p.last_step = step
    out = [_point("train_loss", m.group(2), step)]
    if m.group(3) is not None:
        out.append(_point("epoch_minutes", m.group(3), step))
    return out


def rdt_samples(line: str, p: ParseState) -> Optional[List[MetricPoint]]:
    if "_sample_mse'" not in line:
        return None
    m = _SAMPLE.search(line)
    if m is None:
        return None
    text = m.group(1)
    if p.fast and _PLAIN_DICT.fullmatch(text):
        # What literal_eval below gives for the dict repr of names and finite numbers, at a
        # fraction of its cost (these lines come every few steps in a multi-GB log).
        items = _PLAIN_ITEM.findall(text)
        if len({k for k, _ in items}) == len(items):  # a repeated name: literal_eval's rules
            step = p.last_step
            return [MetricPoint(k, _plain_number(v), step) for k, v in items]
    try:
        values = ast.literal_eval(text)  # a Python dict repr, not JSON
    except (ValueError, SyntaxError):
        return None
    if not isinstance(values, dict):
        return None
    return [
        _point(str(k), str(v), p.last_step)
        for k, v in values.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]


class Format(NamedTuple):
    """What a metric format takes from a line, declared here so the generic parser
    (``core/metrics.py``) never names a format.

    ``matchers``: (a substring its lines always hold, the matcher) pairs, tried first. The
    substring is the cheap screen: most lines of a multi-GB log hold none, and pay a few
    ``in`` tests, no regex. ``json``: a line that is one JSON object. ``tqdm``: a tqdm bar's
    ``n/total`` and postfix. ``key_value``: ``key=value`` and ``key: value`` pairs guessed
    anywhere in the rest (with the screens that keep a ``file.py:123`` or a rank out); a
    format without it takes its own lines only, a ``host: `` prefix removed."""

    matchers: List[Tuple[str, Matcher]]
    json: bool = False
    tqdm: bool = False
    key_value: bool = False


_RDT: List[Tuple[str, Matcher]] = [("_sample_mse'", rdt_samples)]
_RVQ_M: List[Tuple[str, Matcher]] = [("Iter ", rvq)]
_GEN_M: List[Tuple[str, Matcher]] = [("][", gesture_gen), ("Validation Results >>>>", gesture_gen)]
_LIBERO_M: List[Tuple[str, Matcher]] = [("[info] Epoch", libero)]
FORMATS: Dict[str, Format] = {
    "rdt": Format(_RDT, tqdm=True),
    "dp": Format([], json=True),
    "json": Format([], json=True),
    "gesturelsm-rvq": Format(_RVQ_M),
    "gesturelsm": Format(_GEN_M),
    "libero": Format(_LIBERO_M),
    "auto": Format(_RDT + _RVQ_M + _GEN_M + _LIBERO_M, json=True, tqdm=True, key_value=True),
}


def metric_format(fmt: str) -> Format:
    """The declaration of ``fmt``; ValueError naming the known ones when there is none."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown metric format {fmt!r} (known: {', '.join(sorted(FORMATS))})")
    return FORMATS[fmt]


def project_matchers(fmt: str) -> List[Tuple[str, Matcher]]:
    """The (screen, matcher) pairs of ``fmt``. The matchers search anywhere in the line, so
    a ``host: `` prefix (pdsh) or colour codes before the text do not hide it."""
    return list(metric_format(fmt).matchers)
