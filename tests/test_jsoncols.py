"""JSON-line objects (dp, json formats) enter the store as columns when a run of them has one
shape (core/jsoncols.py): the points must be exactly the line-by-line reference's, whatever
the objects hold, and the store filled with them must equal the one filled point by point."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.core.metrics import MetricParser
from rdt_tui.core.parsed import BarBlock


def run_of(make: Any, n: int = 12) -> list[str]:
    return [make(i) for i in range(n)]


def dp_lines() -> list[str]:
    """Runs of one shape each, with what the reference reads its own way."""
    big = "1" + "0" * 400
    runs = [
        run_of(lambda i: json.dumps({"train_loss": 1 / (i + 1), "global_step": i, "epoch": 0})),
        run_of(lambda i: json.dumps({"loss": 0.5, "step": i if i != 5 else "9", "it": i})),
        run_of(lambda i: json.dumps({"loss": 0.5, "step": i if i != 5 else "9"})),
        run_of(lambda i: json.dumps({"loss": 0.5, "step": i if i != 7 else True})),
        run_of(lambda i: json.dumps({"loss": 0.5, "step": i, "ok": True, "tag": "x"})),
        run_of(lambda i: json.dumps({"loss": 0.5, "step": i, "flag": i % 2 == 0})),
        run_of(lambda i: '{"loss": 0.5, "step": ' + ("NaN" if i == 3 else str(i)) + "}"),
        run_of(lambda i: '{"loss": ' + (big if i == 4 else "1") + f', "step": {i}' + "}"),
        run_of(lambda i: json.dumps({"loss": 0.25, "step": i + 0.7})),
        run_of(lambda i: json.dumps({"val_loss": 0.1 * i})),  # no step: the last one seen
        run_of(lambda i: json.dumps({"global_step": i, "step": 99, "loss": 1, "lr": 2})),
        run_of(lambda i: json.dumps({"loss": 1.5, "step": 2**53 + (i == 2)})),
        run_of(lambda i: json.dumps({"loss": i, "step": i, "n": None, "v": [1]})),
        run_of(lambda i: json.dumps({"loss": i if i != 3 else "x", "step": i})),
        run_of(lambda i: json.dumps({"loss": i if i != 6 else False, "step": i})),
        ["not json at all", "epoch 3 done: loss=0.2"],
        run_of(lambda i: json.dumps({"train_loss": -i, "global_step": 1000 + i // 2})),
    ]
    lines: list[str] = []
    for run in runs:
        lines.extend(run)
        lines.append("some log line")
    return lines


@pytest.mark.parametrize("fmt", ["dp", "json"])
def test_json_runs_as_columns_give_the_reference_points(fmt: str, tmp_path: Any) -> None:
    lines = dp_lines()
    parsed = MetricParser(fmt).parse_points(lines)
    assert sum(isinstance(p, BarBlock) for p in parsed.parts) >= 5, "columns not taken"
    want = MetricParser(fmt, fast=False).parse_lines(lines)
    assert parsed.to_list() == want
    assert MetricParser(fmt).parse_lines(lines) == want
    columns, points = MetricStore(str(tmp_path / "c")), MetricStore(str(tmp_path / "p"))
    columns.append(parsed, 1.0)
    points.append(want, 1.0)
    assert columns.since(0, 10**6) == points.since(0, 10**6)
