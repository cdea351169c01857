"""Metric points parsed from training log lines.

Three shapes are understood (the profile issue adds project-specific ones):

- a tqdm bar with a postfix, ``Steps:  12%|#2  | 24/200 [00:48<05:52, 2.0s/it, loss=0.0152,
  lr=0.0001]``: one point per postfix value, the step taken from ``n/total``;
- a JSON object per line, ``{"train_loss": 0.01, "global_step": 92637, "epoch": 299}``: one point
  per numeric field, the step from ``global_step`` / ``step`` / ``iter``;
- ``key=value`` and ``key: value`` pairs anywhere in a line.

A line without its own step takes the last step seen, so ``val_loss: 0.3`` printed after the
bar for step 400 lands at step 400.

Project formats (``core/formats.py``) are tried first: RDT's sample-MSE dicts, GestureLSM's
RVQ-VAE ``Train. Iter`` lines and generative ``[epoch][it/len]`` and ``Validation Results``
lines, LIBERO's ``[info] Epoch:`` lines. Colour codes are removed, and a ``host: `` prefix
(pdsh, multi-node DeepSpeed) is tried away when the line does not match as it is.
"""

import json
import math
import re
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple


class MetricPoint(NamedTuple):
    name: str
    value: float
    step: Optional[int]


STEP_KEYS = ("global_step", "step", "iteration", "iter", "it")
_STEP_KEY_SET = frozenset(STEP_KEYS)

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|NaN|NAN|inf|Inf|INF)"
_TQDM = re.compile(r"(\d+)/(\d+) \[([^\]]*)\]")
_POSTFIX = re.compile(r"([A-Za-z_][\w./-]*)=(" + _NUMBER + r")(?=,|$)")
_KV = re.compile(
    r"(?:^|(?<=[\s,|;(\[]))([A-Za-z_][\w./-]*)\s?(?:=|:)\s*(" + _NUMBER + r")(?=$|[\s,|;)\]])"
)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_HOST_PREFIX = re.compile(r"^[\w.-]+: (?=\S)")


class MetricParser:
    """Stateful parser: carries the last step and drops repaints of an unchanged tqdm bar."""

    def __init__(self, fmt: str = "auto") -> None:
        from .formats import project_matchers

        self.last_step: Optional[int] = None
        self._last_bar: Optional[Tuple[int, List[Tuple[str, str]]]] = None
        self.fmt = fmt
        self._project = project_matchers(fmt)

    def parse_lines(self, lines: Iterable[str]) -> List[MetricPoint]:
        out: List[MetricPoint] = []
        for line in lines:
            # Cheap screens first: most log lines carry no metric at all.
            if "=" in line or ":" in line:
                self._parse_line(line, out)
        return out

    def _parse_line(self, line: str, out: List[MetricPoint]) -> None:
        if "\x1b" in line:
            line = _ANSI.sub("", line)
        for needle, match in self._project:
            if needle in line:
                found = match(line, self)
                if found is not None:
                    out.extend(found)
                    return
        named = self.fmt != "auto"
        if named:
            # A named format takes its own lines only: no key=value guessing on the rest
            # (RDT's header `Num examples = 50` is not a metric). Ranks may prefix a host.
            line = _HOST_PREFIX.sub("", line, count=1)
        stripped = line.strip()
        if (
            (not named or self.fmt in ("dp", "json"))
            and stripped.startswith("{")
            and stripped.endswith("}")
            and self._parse_json(stripped, out)
        ):
            return
        if (not named or self.fmt == "rdt") and "/" in line and "[" in line:
            bar = _TQDM.search(line)
            if bar is not None:
                self._parse_bar(bar, out)
                return
        if not named:
            self._parse_pairs(line, out)

    def _parse_bar(self, bar: "re.Match[str]", out: List[MetricPoint]) -> None:
        step = int(bar.group(1))
        self.last_step = step
        pairs = _POSTFIX.findall(bar.group(3))
        key = (step, pairs)
        if key == self._last_bar:
            return  # a repaint of the same step and values (only the clock moved)
        self._last_bar = key
        # This is the hot path of a multi-GB log: build the tuples without NamedTuple's
        # Python-level constructor.
        make = tuple.__new__
        for name, value in pairs:
            out.append(make(MetricPoint, (name, float(value), step)))

    def _parse_json(self, text: str, out: List[MetricPoint]) -> bool:
        try:
            obj = json.loads(text)
        except ValueError:
            return False
        if not isinstance(obj, dict):
            return False
        step = None
        for key in STEP_KEYS:
            value = obj.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                step = int(value)
                break
        if step is None:
            step = self.last_step
        else:
            self.last_step = step
        for name, value in obj.items():
            if name in _STEP_KEY_SET or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                out.append(MetricPoint(name, float(value), step))
        return True

    def _parse_pairs(self, line: str, out: List[MetricPoint]) -> None:
        pairs = _KV.findall(line)
        if not pairs:
            return
        step = None
        for name, value in pairs:
            if name.lower() in _STEP_KEY_SET:
                try:
                    step = int(float(value))
                except (ValueError, OverflowError):
                    continue
                break
        if step is None:
            step = self.last_step
        else:
            self.last_step = step
        for name, value in pairs:
            if name.lower() not in _STEP_KEY_SET:
                out.append(MetricPoint(name, float(value), step))


def parse_text(text: str) -> List[MetricPoint]:
    """All points of a whole log (a convenience for tests and one-shot tools)."""
    from .lines import LineSplitter

    splitter = LineSplitter()
    parser = MetricParser()
    lines = splitter.feed(text.encode("utf-8"))
    lines.extend(splitter.flush())
    return parser.parse_lines(lines)


def point_to_json(seq: int, point: MetricPoint, t: float) -> Dict[str, object]:
    """A point as it travels: NaN and Inf as strings, since JSON has no spelling for them."""
    value: object = point.value
    if not math.isfinite(point.value):
        value = str(point.value)
    return {"seq": seq, "name": point.name, "value": value, "step": point.step, "t": round(t, 3)}


def bar_progress(text: str) -> Optional[Tuple[int, int]]:
    """The last tqdm ``n/total`` in a chunk of log text (for the ETA), or None. Only the tail
    is searched: a bar repaints on one line, so the newest state is at the end."""
    found = None
    for match in _TQDM.finditer(text, max(0, len(text) - 4096)):
        found = match
    if found is None:
        return None
    n, total = int(found.group(1)), int(found.group(2))
    return (n, total) if total > 0 and n <= total else None
