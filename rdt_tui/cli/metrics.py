"""``rdt-tui metrics HOST RUN``: a run's metric points, one a line. With more runs,
``--format csv|jsonl`` or ``--by``: one metric (``--name loss``) of several runs as aligned
columns (step, or seconds since each run's start, then one column per run; a run without a
point there leaves its cell empty), for a notebook or a paper table. The alignment itself is
``core.compare``; this module fetches and prints."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from ..client import AgentClient
from ..core.compare import STEP, TIME, align, cell, column
from ..protocol.wire import encode_float
from .common import AddCommand, CliError, emit_json

FORMATS = ("csv", "jsonl")


def is_aligned(a: argparse.Namespace) -> bool:
    """The aligned output is asked for: a format, an axis or more than one run. One run
    without them keeps the plain per-point listing."""
    return bool(a.format or a.by or a.more_runs)


def add_parsers(add: AddCommand) -> None:
    sp = add(
        "metrics",
        cmd_metrics,
        "print a run's metric points (from its log or TensorBoard event files: the last column)",
    )
    sp.add_argument("--name", action="append", help="only this metric (repeatable)")
    sp.add_argument(
        "more_runs",
        nargs="*",
        metavar="RUN",
        help="more runs of the same host: their points are aligned in columns, one per run",
    )
    sp.add_argument(
        "--format",
        choices=FORMATS,
        help="one metric (--name, default loss) in aligned columns, as CSV (empty cell: no "
        "point there) or JSON Lines (null)",
    )
    sp.add_argument(
        "--by",
        choices=(STEP, TIME),
        help="align by training step (default) or by seconds since each run's start "
        "(to about a second: the agent reads a run's log once a second)",
    )


async def cmd_metrics(c: AgentClient, a: argparse.Namespace) -> int:
    if is_aligned(a):
        return await cmd_aligned(c, a)
    points = await c.all_metrics(a.run)
    if a.name:
        points = [p for p in points if p["name"] in a.name]
    # What the agent skipped or found wrong in the run's event files (a damaged record...).
    for problem in (await c.metrics(a.run, 0, 0)).get("problems") or []:
        print(f"warning: {problem}", file=sys.stderr)
    if a.json:
        keys = ("name", "value", "step", "seq", "source")
        emit_json([{k: p.get(k) for k in keys} for p in points])
        return 0
    for p in points:
        step = p["step"] if p["step"] is not None else "-"
        print(f"{step:>8}  {p['name']:24} {p['value']!s:24} {p.get('source', 'log')}")
    return 0


async def cmd_aligned(c: AgentClient, a: argparse.Namespace) -> int:
    names = a.name or ["loss"]
    if len(names) > 1:
        raise CliError(
            "aligned columns hold one metric", "give one --name, e.g. --name loss --format csv"
        )
    name = names[0]
    runs = list(dict.fromkeys([a.run, *a.more_runs]))  # each run once, in the order given
    by = a.by or STEP
    columns = []
    for run in runs:
        status = await c.status(run)  # an unknown run fails here with the agent's hint
        points = await c.all_metrics(run)
        columns.append(column(points, name, by, status.get("started_at")))
    if not any(columns):
        raise CliError(
            f"no {name!r} points in {', '.join(runs)}",
            f"see the names with `rdt-tui metrics {a.host} {runs[0]}`",
        )
    rows = align(columns)
    axis = "step" if by == STEP else "seconds"
    if a.json or a.format == "jsonl":
        docs = [
            {axis: _x(x), **{r: _json(v) for r, v in zip(runs, values, strict=True)}}
            for x, values in rows
        ]
        if a.json and a.format != "jsonl":
            print(json.dumps(docs, indent=2))
        else:
            for doc in docs:
                sys.stdout.write(json.dumps(doc) + "\n")
        return 0
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow([axis, *runs])
    for x, values in rows:
        out.writerow([_x(x), *(cell(v) for v in values)])
    return 0


def _json(value: float | None) -> Any:
    """JSON has no NaN or Infinity: those travel as text, as on the wire."""
    return None if value is None else encode_float(value)


def _x(x: float) -> float:
    """Steps as they are; seconds to the millisecond."""
    return x if isinstance(x, int) else round(x, 3)
