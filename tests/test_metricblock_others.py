"""A chunk's bars and the points of the lines between them (``BarRun``) go into the store per
name as whole columns (agent/metricblock.py ``append_run``: the other lines' points grouped by
name, a name the bars give too merged with the bars' column in seq order). Held to the
point-by-point append of the same points (``MetricStore._append_points``): the same names,
seqs, steps and values, and records that replay to the same store, for points without a step,
steps out of range, float and bool steps, NaN steps and values, repaints within the other
lines, across bars and other lines, and of the series' last point, few names and many."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from rdt_tui.agent import metricblock
from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.core.parsed import BarRun, ParsedPoints, run_points
from rdt_tui.core.points import MAX_STEP, MetricPoint

KEYS = ("loss", "lr")
FEW = ["loss", "lr", "grad_norm", "val_loss"]
MANY = FEW + [f"n{i}" for i in range(12)]


def state(store: MetricStore) -> dict[str, Any]:
    page, last = store.since(0, 10**9)
    return {"last": last, "series": json.dumps(page["series"]), "names": list(store.names)}


def a_step(rng: random.Random, near: int) -> Any:
    roll = rng.random()
    if roll < 0.6:
        return near
    odd = [None, None, float(near), math.nan, MAX_STEP + 1, -MAX_STEP - 5, True, near - 1]
    return rng.choice(odd)


def a_run(rng: random.Random, names: list[str], start: int) -> BarRun:
    n = rng.randint(0, 40)
    steps, step = [], start
    for _ in range(n):
        step += rng.choice([0, 1, 1, 1, 2])  # a bar of the same step: a repaint
        steps.append(step)
    values = [[rng.choice([rng.random(), math.nan]) for _ in steps] for _ in KEYS]
    others = []
    for bar in sorted(rng.sample(range(n + 1), rng.randint(0, n + 1))):
        near = steps[bar - 1] if bar else start
        points = []
        for _ in range(rng.randint(1, 4)):
            name = rng.choice(names)
            value = rng.choice([rng.random(), math.nan])
            points.append(MetricPoint(name, value, a_step(rng, near)))
            if rng.random() < 0.2:  # the same name and step again: it replaces the first
                points.append(MetricPoint(name, rng.random(), points[-1].step))
        others.append((bar, points))
    return BarRun(KEYS, steps, values, others)


@pytest.mark.parametrize("names", [FEW, MANY], ids=["few", "many"])
@pytest.mark.parametrize("known", [True, False], ids=["known", "new"])
def test_a_run_stores_what_its_points_store(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, names: list[str], known: bool
) -> None:
    taken = []
    append_run = metricblock.append_run

    def counting(*args: Any) -> Any:
        done = append_run(*args)
        taken.append(done is not None)
        return done

    monkeypatch.setattr("rdt_tui.agent.metricstore.append_run", counting)
    for seed in range(30):
        rng = random.Random(seed)
        by_run = MetricStore(str(tmp_path / f"{seed}-run"))
        by_points = MetricStore(str(tmp_path / f"{seed}-points"))
        if known:  # the names seen before: the run goes in whole, column by column
            first = [MetricPoint(k, 0.0, 0) for k in names]
            by_run.append(first, 1.0)
            by_points.append(first, 1.0)
        start = 1
        for _ in range(6):
            run = a_run(rng, names, start)
            start = (run.steps or [start])[-1] + rng.choice([0, 1])
            parsed = ParsedPoints()
            parsed.run(*run)
            by_run.append(parsed, 1.0)
            by_points.append(run_points(run), 1.0)
            assert state(by_run) == state(by_points), seed
        by_run.save_cursor({})
        by_run.close()
        again = MetricStore(str(tmp_path / f"{seed}-run"))
        assert again.load() is not None
        assert state(again) == state(by_points)  # the records replay the same
        again.close()
        by_points.close()
    assert sum(taken) > 100  # the runs went in whole
