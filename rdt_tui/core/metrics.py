"""Metric points parsed from training log lines.

Three shapes are understood (the profile issue adds project-specific ones):

- a tqdm bar with a postfix, ``Steps:  12%|#2  | 24/200 [00:48<05:52, 2.0s/it, loss=0.0152,
  lr=0.0001]``: one point per postfix value, the step taken from ``n/total``;
- a JSON object per line, ``{"train_loss": 0.01, "global_step": 92637, "epoch": 299}``: one point
  per numeric field, the step from ``global_step`` / ``step`` / ``iter``;
- ``key=value`` and ``key: value`` pairs anywhere in a line.

A line without its own step takes the last step seen, so ``val_loss: 0.3`` printed after the
bar for step 400 lands at step 400. A tqdm bar repainted for the same step gives the same
(name, step) again: the store keeps the last one (``keep_latest`` says how), so RDT's
``update(1)`` then ``set_postfix(...)`` gives one point per step, not a stale one first.

``auto`` reads ``key=value`` and ``key: value`` only where they look like metrics: not a
``file.py:123`` or ``host:port`` (a colon without a space before an integer), not a label's
count (``Num examples = 50``, ``Num processes: 2``), not a process's ``pid``/``rank``/``signal``,
not NCCL chatter, tracebacks or exception lines. A step that is not a finite integer within
``MAX_STEP`` (``step=1e20``, ``{"step": NaN}``) makes its line give nothing; no line raises.

Project formats (``core/formats.py``) are tried first: RDT's sample-MSE dicts, GestureLSM's
RVQ-VAE ``Train. Iter`` lines and generative ``[epoch][it/len]`` and ``Validation Results``
lines, LIBERO's ``[info] Epoch:`` lines. Colour codes are removed, and a ``host: `` prefix
(pdsh, multi-node DeepSpeed) is tried away when the line does not match as it is.
"""

import json
import re
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
    Union,
)

from .formats import metric_format
from .jsonshape import JsonShapes
from .kvshape import KvShapes
from .logtext import count_lines, decode_lines

# The patterns, step keys and Sink that the fast paths share: core/metricsyntax.py.
from .metricsyntax import _ANSI, _NUMBER, _POSTFIX, _STEP_KEY_SET, STEP_KEYS, Sink

# MetricPoint, MAX_STEP and as_step live in core/points.py; importers of this module keep them.
from .points import MAX_STEP, MetricPoint, as_step  # noqa: F401

if TYPE_CHECKING:
    from . import fastscan
    from .logtext import LogText
    from .parsed import ParsedPoints

# Names that processes print beside integers and that are never a training metric.
_NOT_METRICS = frozenset(
    [
        "pid", "ppid", "tid", "rank", "local_rank", "global_rank", "node_rank", "group_rank",
        "world_size", "local_world_size", "signal", "sig", "exitcode", "exit_code", "returncode",
        "errno", "port", "master_port", "line", "lineno", "nproc_per_node", "nnodes",
    ]
)  # fmt: skip
# Lines that are never metrics in ``auto``: NCCL's INFO/WARN chatter, tracebacks.
_SKIP_NEEDLES = (" NCCL ", "NCCL INFO", "NCCL WARN", 'File "', "Traceback (most recent")
_EXCEPTION = re.compile(
    r"^\s*(?:\[[\w-]+\]:\s*)?[\w.]+(?:Error|Exception|Interrupt|Warning|Exit)\b:"
)
# glog's warning, error and fatal lines (torch's C++ and elastic launcher: `W1201 14:55:10.34
# 13716 torch/distributed/elastic/agent/server/api.py:753] ...`); absl's I lines may be metrics.
_GLOG_WEF = re.compile(r"^(?:\[[\w-]+\]:)?\[?[WEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\]")
_LEADER = re.compile(r"\w \.{3,} ")
_PY_LOG_PREFIX = re.compile(r"^(?:DEBUG|INFO|WARNING|ERROR|CRITICAL):[\w.]+:")

_TQDM = re.compile(r"(\d+)/(\d+) \[([^\]]*)\]")
# ``key=value``, ``key = value`` (print's spacing), ``key: value``, or ``key:value`` when the
# value is no integer (an integer after a bare colon is a line number, a port or a clock).
_KV = re.compile(
    r"(?:^|(?<=[\s,|;(\[]))([A-Za-z_][\w./-]*)"
    r"(?:=\s*| = ?|:\s+|:(?=[-+]?(?:\d*\.\d|\d+[eE]|nan|NaN|NAN|inf|Inf|INF)))"
    r"(" + _NUMBER + r")(?=$|[\s,|;)\]])"
)

_HOST_PREFIX = re.compile(r"^[\w.-]+: (?=\S)")


class MetricParser:
    """Stateful parser: carries the last step and drops repaints of an unchanged tqdm bar."""

    def __init__(self, fmt: str = "auto", fast: bool = True) -> None:
        """``fast=False`` parses line by line only: the reference the fast path (bars found
        in a whole chunk by one regex, ``core/fastscan.py``) is tested against."""
        self.last_step: Optional[int] = None
        self._last_bar: Optional[Tuple[int, List[Tuple[str, str]]]] = None
        self.fmt = fmt
        self.takes = metric_format(fmt)
        self._project = list(self.takes.matchers)
        # Pure key=value lines of one shape, read by one regex (core/kvshape.py); never in
        # the reference (fast=False).
        self._kv: Optional[KvShapes] = None
        if fast and self.takes.key_value:
            needles = [n for n, _ in self._project] + list(_SKIP_NEEDLES) + [" .."]
            self._kv = KvShapes(needles, _NOT_METRICS)
        # JSON lines of one shape, read by one regex (core/jsonshape.py); fast mode only.
        self._json: Optional[JsonShapes] = None
        if fast and self.takes.json:
            self._json = JsonShapes([n for n, _ in self._project])
        self.fast = fast
        # The fast path of the format, fixed here: tqdm bars, a shaped format, or JSON lines.
        self._fast: Optional[fastscan._Path] = None
        self._fast_bytes: Optional[fastscan._BytesPath] = None
        if fast:
            from .fastscan import fast_bytes_path, fast_path

            self._fast = fast_path(fmt)
            self._fast_bytes = fast_bytes_path(fmt)

    def parse_lines(self, lines: Iterable[str]) -> List[MetricPoint]:
        out: List[MetricPoint] = []
        self._parse_into(lines, out)
        return out

    def parse_points(self, lines: "Union[Iterable[str], LogText]") -> "ParsedPoints":
        """The points of ``lines`` as ``parse_lines`` gives them, runs of tqdm bars kept as
        columns (``core/parsed.py``): what the agent's store appends without a tuple per point.
        A ``LogText`` (the agent's reads) has its bars found in its bytes, undecoded."""
        from .logtext import LogText
        from .parsed import ParsedPoints

        out = ParsedPoints()
        if isinstance(lines, LogText):
            self._parse_text(lines, out)
        else:
            self._parse_into(lines, out)
        return out

    def _parse_text(self, text: "LogText", out: "ParsedPoints") -> None:
        from .fastscan import MIN_LINES

        fast = self._fast_bytes
        for piece in text.pieces:
            if isinstance(piece, list):
                self._parse_into(piece, out)
                continue
            if (
                fast is not None
                and (
                    len(piece) >= 1 << 16
                    or piece.count(b"\n") >= MIN_LINES  # as many lines at least
                    or count_lines(piece) >= MIN_LINES
                )
                and fast(self, piece, out, text.max_line, "replace")
            ):
                continue
            self._parse_into(decode_lines(piece, text.max_line), out)

    def _parse_into(self, lines: Iterable[str], out: "Sink") -> None:
        fast = self._fast
        if fast is not None:
            from .fastscan import MIN_LINES

            if not isinstance(lines, list):
                lines = list(lines)
            if len(lines) >= MIN_LINES and fast(self, lines, out):
                return
        one = self._parse_one
        for line in lines:
            one(line, out)

    def _parse_one(self, line: str, out: "Sink") -> None:
        # Cheap screens first: most log lines carry no metric at all.
        if "=" in line or ":" in line:
            if line[:1] == "{":  # never a pure key=value line
                js = self._json
                if js is not None and js.take(line, self, out):
                    return
            else:
                kv = self._kv
                if kv is not None and kv.take(line, self, out):
                    return
            try:
                self._parse_line(line, out)
            except (ValueError, OverflowError, TypeError, RecursionError, MemoryError):
                pass  # whatever a job prints, the watcher goes on: the line gives nothing

    def _parse_line(self, line: str, out: "Sink") -> None:
        if "\x1b" in line:
            line = _ANSI.sub("", line)
        for needle, match in self._project:
            if needle in line:
                found = match(line, self)
                if found is not None:
                    out.extend(found)
                    return
        takes = self.takes
        guess = takes.key_value
        if not guess:
            # A format without key=value guessing takes its own lines only (RDT's header
            # `Num examples = 50` is not a metric). Ranks may prefix a host.
            line = _HOST_PREFIX.sub("", line, count=1)
        stripped = line.strip()
        if (
            takes.json
            and stripped.startswith("{")
            and stripped.endswith("}")
            and self._parse_json(stripped, out)
        ):
            if self._json is not None:
                self._json.learn(stripped)  # its shape, read by one regex from now on
            return
        if takes.tqdm and "/" in line and "[" in line:
            bar = _TQDM.search(line)
            if bar is not None:
                self._parse_bar(bar, out)
                if guess and bar.end() < len(line):
                    # A print to stdout lands after a bar on stderr (no newline between): the
                    # rest is a line of its own, screened like any other.
                    self._parse_line(line[bar.end() :], out)
                return
        if guess:
            for needle in _SKIP_NEEDLES:
                if needle in line:
                    return
            if _GLOG_WEF.match(line):
                return
            if " .." in line and _LEADER.search(line):
                return  # a config table row, `train_batch_size ....... 32`
            if (
                "rror" in line or "xception" in line or "nterrupt" in line or "arning" in line
            ) and _EXCEPTION.search(line):
                return  # `SignalException: Process 1 got signal: 2`
            prefix = _PY_LOG_PREFIX.match(line)
            if prefix is not None:  # logging's default ``INFO:name:message``
                line = " " + line[prefix.end() :]
            elif self._kv is not None and ":" not in line:
                self._kv.learn(line)  # a pure key=value line: its shape, read by one regex
            self._parse_pairs(line, out)

    def _parse_bar(self, bar: "re.Match[str]", out: "Sink") -> None:
        n = bar.group(1)
        step = int(n) if len(n) < 16 else as_step(n)  # 15 digits stay under MAX_STEP
        if step is None:
            return
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

    def _parse_json(self, text: str, out: "Sink") -> bool:
        try:
            obj = json.loads(text)
        except ValueError:
            return False
        if not isinstance(obj, dict):
            return False
        self._json_object(obj, out)
        return True

    def _json_object(self, obj: Dict[str, Any], out: "Sink") -> None:
        """The points of one JSON line's object (the fast path decodes a chunk's at once)."""
        step = None
        for key in STEP_KEYS:
            value = obj.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                step = as_step(value)
                if step is None:
                    return  # {"step": NaN}: a JSON line, but no point can be placed
                break
        if step is None:
            step = self.last_step
        else:
            self.last_step = step
        for name, value in obj.items():
            if name in _STEP_KEY_SET or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                try:
                    # tuple.__new__: the same point without NamedTuple's Python-level __new__
                    out.append(tuple.__new__(MetricPoint, (name, float(value), step)))
                except OverflowError:
                    continue  # an integer too large for a float

    def _parse_pairs(self, line: str, out: "Sink") -> None:
        pairs = []
        for m in _KV.finditer(line):
            name, value = m.groups()
            low = name.lower()
            if low in _NOT_METRICS or low.startswith("self."):
                continue  # a pid, a rank, an object's attribute printed by a library
            start = m.start()
            if (
                start > 1
                and line[start - 1] == " "
                and line[start - 2].isalpha()
                and line[m.end(1)] != "="
                and value.lstrip("+-").isdigit()
            ):
                # The last word of a label and a count: `Num processes: 2`, `got signal: 2`,
                # `Num examples = 50` (but `loss = 0.3` and `train loss: 0.3` are metrics).
                continue
            pairs.append((name, value, low in _STEP_KEY_SET))
        if not pairs:
            return
        step = None
        for _name, value, is_step in pairs:
            if is_step:
                step = as_step(value)
                if step is None:
                    return  # step=1e20: nowhere to put this line's points
                break
        if step is None:
            step = self.last_step
        else:
            self.last_step = step
        make = tuple.__new__  # the point without NamedTuple's Python-level __new__
        for name, value, is_step in pairs:
            if not is_step:
                out.append(make(MetricPoint, (name, float(value), step)))


def parse_text(text: str) -> List[MetricPoint]:
    """All points of a whole log (a convenience for tests and one-shot tools)."""
    from .lines import LineSplitter

    splitter = LineSplitter()
    parser = MetricParser()
    lines = splitter.feed(text.encode("utf-8"))
    lines.extend(splitter.flush())
    return parser.parse_lines(lines)


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


_P = TypeVar("_P", bound=Mapping[str, Any])  # a point dict (protocol.messages.Point)


def keep_latest(points: Iterable[_P]) -> List[_P]:
    """Points (dicts with ``name`` and ``step``, in seq order) as the agent's store keeps them:
    a point whose step equals the step of the last kept point of its name replaces that point.

    The agent sends such a replacement as a new point (same name and step, a new seq); a
    client that gathers points across pages or events applies this so that it ends with what
    a client attaching later gets at once."""
    kept: List[Optional[_P]] = []
    last: Dict[str, int] = {}
    for p in points:
        name, step = p["name"], p["step"]
        i = last.get(name)
        if i is not None and step is not None and kept[i]["step"] == step:  # type: ignore[index]
            kept[i] = None
        last[name] = len(kept)
        kept.append(p)
    return [p for p in kept if p is not None]
