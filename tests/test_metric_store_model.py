"""A poll's parts (bar blocks, key=value and JSON points, points without a step, names the
store refuses) give the seqs and columns that the store's rules give point by point, checked
against a model of those rules on random batches, and replay from points.bin the same."""

from __future__ import annotations

import random
from typing import Any

import pytest

from rdt_tui.agent import metricstore
from rdt_tui.agent.metricstore import NO_STEP, MetricStore
from rdt_tui.core.metrics import MAX_STEP, MetricPoint
from rdt_tui.core.parsed import ParsedPoints


def model(batches: list[list[Any]], max_names: int) -> tuple[dict[str, list[tuple]], int, int]:
    """Point by point, as the store's rules say: seqs in parse order, a point with the step of
    its series' last point replaces it, no step never replaces, refused names take no seq."""
    series: dict[str, list[tuple[int, int, float]]] = {}
    seq = dropped = 0
    for batch in batches:
        for name, value, step in batch:
            if name not in series:
                if len(series) >= max_names or len(name) > metricstore.MAX_NAME_LEN:
                    dropped += 1
                    continue
                series[name] = []
            if step is None or not -MAX_STEP <= step <= MAX_STEP:
                step = NO_STEP
            seq += 1
            col = series[name]
            if step != NO_STEP and col and col[-1][1] == int(step):
                col[-1] = (seq, int(step), value)
            else:
                col.append((seq, int(step), value))
    return series, seq, dropped


def random_batch(rng: random.Random, names: list[str], step: int) -> tuple[ParsedPoints, int]:
    """Bars (as blocks, repaints included), key=value points, points without a step."""
    parsed = ParsedPoints()
    for _ in range(rng.randint(1, 40)):
        kind = rng.random()
        if kind < 0.5:
            keys = tuple(rng.sample(names[:4], rng.randint(1, 3)))
            steps = []
            for _ in range(rng.randint(1, 4)):
                step += rng.choice((0, 1, 1, 2))  # 0: the bar painted again for its step
                steps.append(step)
            parsed.block(keys, steps, [[rng.random() for _ in steps] for _ in keys])
        else:
            pts = []
            for name in rng.sample(names, rng.randint(1, 3)):
                s = rng.choice((step, step, None, float(step), MAX_STEP * 2))
                pts.append(MetricPoint(name, rng.random(), s))  # type: ignore[arg-type]
            parsed.extend(pts)
    return parsed, step


def columns(store: MetricStore) -> dict[str, list[tuple]]:
    out = {}
    for k, name in enumerate(store.names):
        s = store._series[k]
        out[name] = list(zip(s.seq.tolist(), s.step.tolist(), s.value.tolist(), strict=True))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_batches_give_the_columns_of_point_by_point(
    tmp_path: Any, monkeypatch: Any, seed: int
) -> None:
    rng = random.Random(seed)
    max_names = 6 if seed % 3 == 0 else metricstore.MAX_NAMES  # some names refused
    monkeypatch.setattr(metricstore, "MAX_NAMES", max_names)
    names = ["loss", "lr", "grad_norm", "val_loss", "acc", "x" * 201, "epoch", "tok_s"]
    store = MetricStore(str(tmp_path / "m"))
    batches, step = [], 0
    for _ in range(8):
        parsed, step = random_batch(rng, names, step)
        batches.append(parsed.to_list())
        store.append(parsed, 1.0)
    series, last, dropped = model(batches, max_names)
    assert columns(store) == series
    assert (store.last_seq, store.dropped) == (last, dropped)
    # What was written replays to the same columns (the records hold each batch's net effect).
    store.save_cursor({})
    again = MetricStore(str(tmp_path / "m"))
    again.load()
    assert columns(again) == series and again.last_seq == last
