"""A tqdm bar repainted for the same step gives one point: the last postfix printed for it.

Real tqdm (tests/jobs/tqdm_loop.py) writes into a real file, as a run's output.log is written;
the file goes through the agent's line splitter, parser and store. What a watcher gathers
live, chunk by chunk (``keep_latest`` over the events), what a client attaching afterwards
gets, what a restarted daemon replays from disk, and what the chart holds must all agree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser, keep_latest
from rdt_tui.protocol.messages import Point
from rdt_tui.protocol.wire import expand_points
from rdt_tui.tui.widgets.loss_chart import Series

JOB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jobs", "tqdm_loop.py")
STEPS = 20


def loss(k: int, rank: int = 0) -> float:
    return k / 1000 + rank / 2


def run_job(tmp_path: Any, mode: str, steps: int = STEPS) -> bytes:
    """The job's stdout and stderr in one real file, as the shim writes output.log."""
    path = os.path.join(str(tmp_path), f"{mode}.log")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(path, "wb") as fh:
        subprocess.run(
            [sys.executable, JOB, mode, str(steps)], stdout=fh, stderr=fh, env=env, check=True
        )
    with open(path, "rb") as fh:
        return fh.read()


def through_agent(
    tmp_path: Any, data: bytes, fmt: str = "auto", chunk: int = 97
) -> tuple[list[Point], list[Point], MetricStore]:
    """Feed ``data`` in chunks to a real store, reading it after each chunk as a subscriber
    does. Returns (what the live subscriber ends with, what a later attach gets, the store)."""
    store = MetricStore(os.path.join(str(tmp_path), f"metrics-{fmt}-{chunk}"))
    splitter, parser = LineSplitter(), MetricParser(fmt)
    live: list[Point] = []
    seq = 0
    for i in range(0, len(data), chunk):
        lines = splitter.feed(data[i : i + chunk])
        if i + chunk >= len(data):
            lines.extend(splitter.flush())
        points = parser.parse_lines(lines)
        if points:
            store.append(points, 1.0)
        columns, seq = store.since(seq)
        live.extend(expand_points(columns))
    store.save_cursor({})
    columns, _ = store.since(0)
    return keep_latest(live), expand_points(columns), store


def by_step(points: Sequence[Mapping[str, Any]], name: str = "loss") -> dict[int, float]:
    got = [(p["step"], p["value"]) for p in points if p["name"] == name]
    steps = [s for s, _ in got]
    assert len(steps) == len(set(steps)), f"two points for one step: {got}"
    return dict(got)


# mode -> step: value, the last postfix tqdm printed for each step (see tqdm_loop.py).
EXPECTED = {
    # RDT: update(1) paints step k with step k-1's postfix, set_postfix paints it again.
    "update_then_postfix": {k: loss(k) for k in range(1, STEPS + 1)},
    # set_postfix paints step k-1 with step k's loss; close() repaints the last step.
    "postfix_then_update": {
        **{k: loss(k + 1) for k in range(0, STEPS)},
        STEPS: loss(STEPS),
    },
    # Diffusion Policy: set_postfix(refresh=False) paints nothing; update shows the previous
    # step's loss, close() the last one. Step 1 has no postfix yet.
    "refresh_false": {**{k: loss(k - 1) for k in range(2, STEPS)}, STEPS: loss(STEPS)},
    # update paints every 5th step only; set_postfix paints every step.
    "miniters": {k: loss(k) for k in range(1, STEPS + 1)},
    # leave=False wipes the bar at close: the wipe is no point.
    "leave_false": {k: loss(k) for k in range(1, STEPS + 1)},
    # An epoch bar (no postfix) repaints around the step bar: it adds nothing.
    "epoch_around_steps": {k: loss(k) for k in range(1, STEPS + 1)},
    # Eval prints on stdout land after the stderr bar, on the bar's line.
    "stderr_bar_and_prints": {k: loss(k) for k in range(1, STEPS + 1)},
}


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_each_step_is_one_point_with_the_last_postfix_printed(tmp_path: Any, mode: str) -> None:
    data = run_job(tmp_path, mode)
    live, attached, store = through_agent(tmp_path, data)
    assert by_step(attached) == EXPECTED[mode]
    # A live watcher that replaces by (name, step) ends where a later attach starts.
    assert [(p["name"], p["step"], p["value"]) for p in live] == [
        (p["name"], p["step"], p["value"]) for p in attached
    ]
    # A restarted daemon replays its records to the same points.
    store.close()
    again = MetricStore(store.directory)
    assert again.load() is not None
    assert expand_points(again.since(0)[0]) == attached
    # However the stream was cut.
    for chunk in (1, 13, 4096, len(data)):
        assert through_agent(tmp_path, data, chunk=chunk)[1] == attached


def test_rdt_format_and_the_lr_column_follow_the_same_rule(tmp_path: Any) -> None:
    data = run_job(tmp_path, "update_then_postfix")
    _, attached, _ = through_agent(tmp_path, data, fmt="rdt")
    assert by_step(attached) == EXPECTED["update_then_postfix"]
    assert sorted(by_step(attached, "lr")) == list(range(1, STEPS + 1))


def test_prints_after_a_stderr_bar_are_parsed_at_the_bar_step(tmp_path: Any) -> None:
    data = run_job(tmp_path, "stderr_bar_and_prints")
    assert b"]eval: val_loss=" in data  # the print really landed on the bar's line
    _, attached, _ = through_agent(tmp_path, data)
    assert by_step(attached, "val_loss") == {k: loss(k) * 2 for k in range(4, STEPS + 1, 4)}


def test_two_ranks_bars_interleaved_in_one_pipe_give_one_point_per_step(tmp_path: Any) -> None:
    gate = os.path.join(str(tmp_path), "gate")
    os.mkdir(gate)
    path = os.path.join(str(tmp_path), "ranks.log")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    reader, writer = os.pipe()
    procs = [
        subprocess.Popen(
            [sys.executable, JOB, "rank", str(STEPS), str(rank), gate],
            stdout=writer,
            stderr=writer,
            env=env,
        )
        for rank in (0, 1)
    ]
    os.close(writer)
    with open(path, "wb") as fh, os.fdopen(reader, "rb") as pipe:
        fh.write(pipe.read())  # one pipe, as the shim reads both ranks
    assert [p.wait(60) for p in procs] == [0, 0]
    with open(path, "rb") as fh:
        data = fh.read()
    assert data.count(b"loss=0.5") >= STEPS  # rank 1's bar is really in there
    live, attached, _ = through_agent(tmp_path, data)
    got = by_step(attached)
    assert sorted(got) == list(range(1, STEPS + 1))
    assert all(v in (loss(k, 0), loss(k, 1)) for k, v in got.items())
    # The live watcher, replacing by (name, step), ends with exactly what an attach gets.
    assert [(p["seq"], p["name"], p["step"], p["value"]) for p in live] == [
        (p["seq"], p["name"], p["step"], p["value"]) for p in attached
    ]


def test_the_chart_replaces_a_repainted_step_like_the_store(tmp_path: Any) -> None:
    data = run_job(tmp_path, "update_then_postfix")
    store = MetricStore(os.path.join(str(tmp_path), "chart"))
    splitter, parser = LineSplitter(), MetricParser()
    series = Series()
    seq = 0
    for i in range(0, len(data), 50):
        store.append(parser.parse_lines(splitter.feed(data[i : i + 50])), 0.0)
        columns, seq = store.since(seq)
        for p in expand_points(columns):
            if p["name"] == "loss":
                assert p["step"] is not None
                series.add(p["step"], p["value"], 0.0)
                series.smoothed(0.6)  # a redraw between events: the EMA must follow the fix
    want = by_step(expand_points(store.since(0)[0]))
    assert dict(zip(series.steps, series.values, strict=True)) == want
    assert len(series) == len(want)
    fresh = Series()
    for step, value in want.items():
        fresh.add(step, value, 0.0)
    assert series.smoothed(0.6).tolist() == pytest.approx(fresh.smoothed(0.6).tolist())
