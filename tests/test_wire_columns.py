"""Metric points stay columns from the wire to the chart: the decoded columns say what the
old point dicts said (value, step, source, the time of the batch), in the same order."""

from __future__ import annotations

import math
from typing import Any

from rdt_tui.protocol.wire import decode_columns, expand_points, last_step, points_of
from rdt_tui.tui.widgets.loss_chart import LossChart

WIRE: dict[str, Any] = {
    "series": {
        "lr": {"seq": [2, 5], "step": [None, 3], "value": [0.1, "inf"]},
        "loss": {"seq": [3, 4, 6], "step": [1, 2, 2], "value": [0.5, "nan", 0.25]},
    },
    "count": 5,
    "times": [[1, 10.0], [4, 20.0], [6, 30.0]],
}


def test_columns_decode_values_times_and_sources() -> None:
    batch = decode_columns(WIRE)
    assert batch["count"] == 5
    loss, lr = batch["series"]["loss"], batch["series"]["lr"]
    assert loss["seq"] == [3, 4, 6] and loss["step"] == [1, 2, 2]
    assert loss["value"][0] == 0.5 and math.isnan(loss["value"][1]) and loss["value"][2] == 0.25
    assert lr["value"] == [0.1, math.inf]
    # each point's time is that of the batch it was parsed in
    assert loss["t"] == [10.0, 20.0, 30.0] and lr["t"] == [10.0, 20.0]
    assert loss["source"] == lr["source"] == "log"  # an agent that names no source


def test_points_of_columns_are_the_old_point_dicts_in_seq_order() -> None:
    points = points_of(decode_columns(WIRE))
    assert [(p["seq"], p["name"], p["step"], p["t"]) for p in points] == [
        (2, "lr", None, 10.0),
        (3, "loss", 1, 10.0),
        (4, "loss", 2, 20.0),
        (5, "lr", 3, 20.0),
        (6, "loss", 2, 30.0),
    ]
    assert [p["seq"] for p in expand_points(WIRE)] == [2, 3, 4, 5, 6]
    no_times = decode_columns({"series": WIRE["series"]})
    assert no_times["series"]["loss"]["t"] == [None, None, None]


def test_last_step_is_the_newest_point_that_has_one() -> None:
    series = decode_columns(WIRE)["series"]
    assert last_step(series) == (2, 30.0)  # seq 6, loss
    only_lr = decode_columns({"series": {"lr": WIRE["series"]["lr"]}, "times": [[1, 1.0]]})
    assert last_step(only_lr["series"]) == (3, 1.0)  # the stepless seq 2 is skipped
    assert last_step({}) is None


def test_the_chart_takes_columns_and_picks_its_first_metric_by_seq_not_column_order() -> None:
    chart = LossChart()
    # "lr" is the column listed second, but its first stepped point came first.
    chart.add(
        decode_columns(
            {
                "series": {
                    "grad": {"seq": [4, 5], "step": [1, 2], "value": [1.0, 2.0]},
                    "lr": {"seq": [1, 3], "step": [None, 1], "value": [0.1, 0.2]},
                },
                "times": [[1, 5.0]],
            }
        )["series"]
    )
    assert chart.metric == "lr"
    assert list(chart.series["lr"].steps) == [1] and list(chart.series["lr"].values) == [0.2]
    # a repainted step replaces the last point, as the agent's store does
    chart.add(decode_columns(WIRE)["series"])
    loss = chart.series["loss"]
    assert list(loss.steps) == [1, 2] and list(loss.values) == [0.5, 0.25]
