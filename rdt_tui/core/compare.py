"""Runs side by side: one metric of several runs aligned on one axis, and what differs in
how they were launched.

Alignment is by training step or by seconds since each run's start. By step, a step that goes
back (a resume from an earlier checkpoint) discards the points at and after it, as TensorBoard
does, so the kept curve is the one the run finally followed. By time, points keep their order;
points of one run that share a time (the agent stamps a parsed batch with one time) stay
separate rows, matched with the other runs' points at that time in order.

The launch diff reads each run's argv: ``--flag value``, ``--flag=value``, a bare ``--flag``
(``true``) and ``key=value`` overrides (Hydra, as Diffusion Policy takes them). The launchers'
switches (``--multi_gpu``, ``--standalone``...) and an option followed by a script
(``--x train.py``) are bare flags: the token after them is the program, not a value. Form
fields reach a run through its argv (placeholders), so they are compared there; the GPUs a run
was given are compared too.
"""

import os
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ..protocol.wire import decode_float, encode_float

Number = Union[int, float]
Column = List[Tuple[Number, float]]  # (x, value) in the order the run reported them
Row = Tuple[Number, List[Optional[float]]]

STEP = "step"
TIME = "time"

_OVERRIDE = re.compile(r"^\+{0,2}[A-Za-z_][\w.\-/]*=")
_SCRIPT = re.compile(r"\.(py|sh|pyz)$")
# Launcher options that take no value (accelerate, torchrun, deepspeed): the token after
# them is the program or the next option.
SWITCHES = frozenset(
    (
        "multi_gpu",
        "cpu",
        "use_deepspeed",
        "use_fsdp",
        "use_megatron_lm",
        "standalone",
        "no_python",
        "module",
        "debug",
        "quiet",
    )
)


def by_step(points: Iterable[Tuple[Optional[int], float]]) -> Column:
    """(step, value) pairs in report order -> the curve by step: a step that goes back
    discards every kept point at or after it; a repeated step replaces the earlier point;
    points without a step are left out."""
    kept: Column = []
    for step, value in points:
        if step is None:
            continue
        while kept and kept[-1][0] >= step:
            kept.pop()
        kept.append((step, value))
    return kept


def by_time(points: Iterable[Tuple[Optional[float], float]], start: Optional[float]) -> Column:
    """(time, value) pairs -> (seconds since ``start``, value); ``start`` None means the first
    point's time. Points without a time are left out."""
    out: Column = []
    for t, value in points:
        if t is None:
            continue
        if start is None:
            start = t
        out.append((t - start, value))
    return out


def column(
    points: Iterable[Mapping[str, Any]], name: str, by: str, start: Optional[float] = None
) -> Column:
    """One metric of one run's points (dicts with ``name``, ``value``, ``step``, ``t``, in seq
    order) aligned ``by`` STEP or TIME. Values sent as text (``"nan"``) become floats."""
    mine = [p for p in points if p.get("name") == name]
    if by == STEP:
        return by_step((p.get("step"), decode_float(p["value"])) for p in mine)
    if by == TIME:
        return by_time(((p.get("t"), decode_float(p["value"])) for p in mine), start)
    raise ValueError(f"align by {STEP!r} or {TIME!r}, not {by!r}")


def align(columns: Sequence[Sequence[Tuple[Number, float]]]) -> List[Row]:
    """Rows ``(x, [value of run 0, value of run 1, ...])`` sorted by x; a run without a point
    at that x has None. When one run has several points at the same x, the k-th of them shares
    a row with the k-th of the other runs' points at that x."""
    table: Dict[Tuple[Number, int], List[Optional[float]]] = {}
    for i, col in enumerate(columns):
        seen: Dict[Number, int] = {}
        for x, value in col:
            k = seen.get(x, 0)
            seen[x] = k + 1
            row = table.get((x, k))
            if row is None:
                row = table[(x, k)] = [None] * len(columns)
            row[i] = value
    return [(x, values) for (x, _k), values in sorted(table.items(), key=lambda kv: kv[0])]


def shared_names(names_per_run: Sequence[Iterable[str]]) -> List[str]:
    """The metric names every run reports, sorted."""
    if not names_per_run:
        return []
    common = set(names_per_run[0])
    for names in names_per_run[1:]:
        common &= set(names)
    return sorted(common)


def launch_fields(argv: Sequence[str]) -> Dict[str, str]:
    """The options of a launch command line as ``{name: value}`` (dashes stripped, ``-``
    inside a name read as ``_``); a repeated option keeps every value, comma-joined."""
    fields: Dict[str, List[str]] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token.startswith("--") and len(token) > 2:
            key, eq, value = token[2:].partition("=")
            if not eq:
                nxt = argv[i] if i < len(argv) else None
                bare = key.replace("-", "_") in SWITCHES
                if bare or nxt is None or nxt.startswith("--") or _is_program(nxt):
                    value = "true"
                else:
                    value = nxt
                    i += 1
            fields.setdefault(key.replace("-", "_"), []).append(value)
        elif _OVERRIDE.match(token):
            key, _, value = token.lstrip("+").partition("=")
            fields.setdefault(key, []).append(value)
    return {k: ",".join(v) for k, v in fields.items()}


def _is_program(token: str) -> bool:
    return bool(_SCRIPT.search(token))


def run_fields(run: Mapping[str, Any]) -> Dict[str, str]:
    """What a run record says about its launch: its argv's options and its GPUs."""
    fields = launch_fields(run.get("argv") or [])
    if run.get("gpus"):
        fields.setdefault("gpus", ",".join(str(g) for g in run["gpus"]))
    return fields


def differing(runs: Sequence[Mapping[str, Any]]) -> List[Dict[str, str]]:
    """Per run, the launch fields whose value is not the same in every run (``-`` where a run
    does not set it), in the order they first appear."""
    per_run = [run_fields(r) for r in runs]
    order: List[str] = []
    for fields in per_run:
        order.extend(k for k in fields if k not in order)
    keys = [k for k in order if len({f.get(k) for f in per_run}) > 1]
    return [{k: f.get(k, "-") for k in keys} for f in per_run]


def profile_name(run: Mapping[str, Any]) -> str:
    """The profile that launched the run (a path shown by its file's stem), or ``-``."""
    profile = str(run.get("profile") or "")
    if not profile:
        return "-"
    base = os.path.basename(profile)
    return base[:-5] if base.endswith(".toml") else base


def run_label(run: Mapping[str, Any], with_host: bool) -> str:
    return f"{run['host']}:{run['id']}" if with_host and run.get("host") else str(run["id"])


def legend_lines(runs: Sequence[Mapping[str, Any]]) -> List[str]:
    """One line per run: its name (``host:id`` when the runs are on several hosts), its
    profile and the launch fields that differ between the runs."""
    with_host = len({r.get("host") for r in runs}) > 1
    lines = []
    for run, diff in zip(runs, differing(runs)):
        parts = [run_label(run, with_host), f"[{profile_name(run)}]"]
        parts.extend(f"{k}={v}" for k, v in diff.items())
        lines.append("  ".join(parts))
    return lines


def cell(value: Optional[float]) -> str:
    """A value as a CSV cell: empty when missing, ``nan``/``inf`` spelled out."""
    return "" if value is None else str(encode_float(value))


class RunMarks:
    """The runs a user marked for comparison, across hosts, in marking order. Each run keeps
    an opaque handle (the console's connection to its host) so the comparison can read it."""

    def __init__(self) -> None:
        self._runs: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self._handles: Dict[Tuple[str, str], Any] = {}

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, key: object) -> bool:
        return key in self._runs

    def toggle(self, host: str, run: Mapping[str, Any], handle: Any = None) -> bool:
        """Mark the run, or unmark it when it was marked; True when it is marked now."""
        key = (host, str(run["id"]))
        if key in self._runs:
            del self._runs[key]
            self._handles.pop(key, None)
            return False
        self._runs[key] = dict(run, host=host)
        self._handles[key] = handle
        return True

    def handle(self, host: str, run_id: str) -> Any:
        """The handle given when the run was marked (None if none was)."""
        return self._handles.get((host, run_id))

    def runs(self) -> List[Dict[str, Any]]:
        """The marked run records (each with its ``host``), in marking order."""
        return [dict(r) for r in self._runs.values()]
