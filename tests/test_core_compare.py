"""Runs side by side, the pure part: alignment by step and by time, the launch diff, the legend."""

from __future__ import annotations

import math

import pytest

from rdt_tui.core.compare import (
    STEP,
    TIME,
    RunMarks,
    align,
    by_step,
    by_time,
    cell,
    column,
    differing,
    launch_fields,
    legend_lines,
    shared_names,
)


def test_align_by_step_with_gaps_and_different_lengths() -> None:
    a = [(1, 1.0), (2, 0.5), (4, 0.25)]
    b = [(2, 0.9), (3, 0.8), (4, 0.7), (5, 0.6), (6, 0.5)]
    assert align([a, b]) == [
        (1, [1.0, None]),
        (2, [0.5, 0.9]),
        (3, [None, 0.8]),
        (4, [0.25, 0.7]),
        (5, [None, 0.6]),
        (6, [None, 0.5]),
    ]


def test_align_of_a_run_without_points_is_a_column_of_gaps() -> None:
    assert align([[(1, 2.0)], []]) == [(1, [2.0, None])]
    assert align([[], []]) == []


def test_points_sharing_an_x_pair_up_in_order() -> None:
    # One parsed batch carries one time: three points of run a at t=10, one of run b.
    a = [(10.0, 1.0), (10.0, 2.0), (10.0, 3.0), (12.5, 4.0)]
    b = [(10.0, 9.0), (11.0, 8.0)]
    assert align([a, b]) == [
        (10.0, [1.0, 9.0]),
        (10.0, [2.0, None]),
        (10.0, [3.0, None]),
        (11.0, [None, 8.0]),
        (12.5, [4.0, None]),
    ]


def test_a_step_that_goes_back_discards_the_abandoned_points() -> None:
    # Resumed from step 3's checkpoint after reaching step 5: 3..5 of the first try go.
    points = [(1, 1.0), (2, 0.9), (3, 0.8), (4, 0.7), (5, 0.6), (3, 0.85), (4, 0.75), (None, 9.0)]
    assert by_step(points) == [(1, 1.0), (2, 0.9), (3, 0.85), (4, 0.75)]
    assert by_step([(7, 1.0), (7, 2.0)]) == [(7, 2.0)]  # a repeated step: the later wins


def test_by_time_counts_from_the_runs_start_or_its_first_point() -> None:
    assert by_time([(105.0, 1.0), (None, 5.0), (107.5, 2.0)], 100.0) == [(5.0, 1.0), (7.5, 2.0)]
    assert by_time([(105.0, 1.0), (107.5, 2.0)], None) == [(0.0, 1.0), (2.5, 2.0)]


def test_column_picks_one_metric_and_reads_text_values() -> None:
    points = [
        {"name": "loss", "value": 1.0, "step": 1, "t": 50.0},
        {"name": "lr", "value": 1e-4, "step": 1, "t": 50.0},
        {"name": "loss", "value": "nan", "step": 2, "t": 51.0},
    ]
    by_steps = column(points, "loss", STEP)
    assert by_steps[0] == (1, 1.0) and by_steps[1][0] == 2 and math.isnan(by_steps[1][1])
    assert column(points, "lr", TIME, 40.0) == [(10.0, 1e-4)]
    with pytest.raises(ValueError):
        column(points, "loss", "epoch")


def test_shared_names() -> None:
    assert shared_names([{"loss", "lr", "val"}, ["loss", "val", "grad"]]) == ["loss", "val"]
    assert shared_names([]) == []


def test_launch_fields_read_flags_values_switches_and_overrides() -> None:
    argv = [
        *("accelerate", "launch", "--multi_gpu", "--num_processes", "2", "main.py"),
        *("--train_batch_size=32", "--learning-rate", "1e-4", "--lr_offset", "-0.5"),
        *("--gradient_checkpointing", "--tag", "a", "--tag", "b", "training.seed=42"),
        *("+extra.flag=x", "--output_dir", "/data/out", "--use_ema"),
    ]
    assert launch_fields(argv) == {
        "multi_gpu": "true",
        "num_processes": "2",
        "train_batch_size": "32",
        "learning_rate": "1e-4",
        "lr_offset": "-0.5",
        "gradient_checkpointing": "true",
        "tag": "a,b",
        "training.seed": "42",
        "extra.flag": "x",
        "output_dir": "/data/out",
        "use_ema": "true",
    }
    # An option followed by the script is a bare flag, not "the value train.py".
    assert launch_fields(["python", "-u", "--x", "train.py", "--y", "1"]) == {"x": "true", "y": "1"}


def test_differing_shows_only_what_differs_with_a_dash_where_unset() -> None:
    base = ["accelerate", "launch", "--num_processes", "2", "main.py"]
    runs = [
        {"argv": [*base, "--train_batch_size", "32", "--learning_rate", "1e-4"], "gpus": ["0"]},
        {"argv": [*base, "--train_batch_size", "32", "--learning_rate", "3e-4"], "gpus": ["1"]},
        {"argv": [*base, "--train_batch_size", "32", "--gradient_accumulation_steps", "4"]},
    ]
    assert differing(runs) == [
        {"learning_rate": "1e-4", "gpus": "0", "gradient_accumulation_steps": "-"},
        {"learning_rate": "3e-4", "gpus": "1", "gradient_accumulation_steps": "-"},
        {"learning_rate": "-", "gpus": "-", "gradient_accumulation_steps": "4"},
    ]
    same = [{"argv": base}, {"argv": list(base)}]
    assert differing(same) == [{}, {}]


def test_legend_names_runs_profiles_and_differences_with_hosts_only_when_mixed() -> None:
    profile = "/p/configs/runs/rdt.toml"
    a = {"id": "ft-1", "host": "gpu-a", "profile": profile, "argv": ["x", "--lr", "1"]}
    b = {"id": "ft-2", "host": "gpu-a", "profile": None, "argv": ["x", "--lr", "2"]}
    assert legend_lines([a, b]) == ["ft-1  [rdt]  lr=1", "ft-2  [-]  lr=2"]
    c = dict(b, host="gpu-b")
    assert legend_lines([a, c]) == ["gpu-a:ft-1  [rdt]  lr=1", "gpu-b:ft-2  [-]  lr=2"]


def test_cells() -> None:
    assert [cell(None), cell(0.5), cell(float("nan")), cell(float("-inf"))] == [
        "",
        "0.5",
        "nan",
        "-inf",
    ]


def test_marks_span_hosts_and_toggle() -> None:
    marks = RunMarks()
    assert marks.toggle("gpu-a", {"id": "r1", "argv": ["x"]}, handle="client-a")
    assert marks.toggle("gpu-b", {"id": "r1"}, handle="client-b")
    assert ("gpu-a", "r1") in marks and len(marks) == 2
    assert [(r["host"], r["id"]) for r in marks.runs()] == [("gpu-a", "r1"), ("gpu-b", "r1")]
    assert marks.handle("gpu-a", "r1") == "client-a" and marks.handle("gpu-b", "r1") == "client-b"
    assert not marks.toggle("gpu-a", {"id": "r1"})
    assert [(r["host"], r["id"]) for r in marks.runs()] == [("gpu-b", "r1")]
    assert marks.handle("gpu-a", "r1") is None
