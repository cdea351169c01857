"""The store takes runs of tqdm bars as whole columns (core/parsed.py BarBlock) and answers a
long series' history from per-block summaries (agent/metricsummary.py).

Each column path is held to the point-by-point path it replaces: the same seqs, steps,
values, the same records on disk (a replay gives the same store), for real tqdm output with
repaints of the same step (RDT's update(1) then set_postfix) and for a batch mixing bars
with other lines' points."""

from __future__ import annotations

import io
import math
import os
from array import array
from typing import Any

import pytest
from tqdm import tqdm

from rdt_tui.agent import metricsummary
from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.core.downsample import downsample_minmax
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser, MetricPoint
from rdt_tui.core.parsed import ParsedPoints


def rdt_like_log(steps: int) -> bytes:
    """Real tqdm output as RDT's loop makes it: update(1), then set_postfix for the step, a
    logged sample dict now and then."""
    out = io.StringIO()
    bar = tqdm(total=steps, file=out, desc="Steps", mininterval=0, miniters=1, ascii=True)
    for step in range(1, steps + 1):
        bar.update(1)
        bar.set_postfix(loss=1.0 / step, lr=0.0001)
        if step % 97 == 0:
            out.write("\n12/12/2024 07:07:23 - INFO - __main__ - {'x_sample_mse': 0.5}\n")
    bar.close()
    return out.getvalue().encode()


def store_state(store: MetricStore) -> dict[str, Any]:
    page, last = store.since(0, 10**9)
    return {"last": last, "series": page["series"], "names": list(store.names)}


def feed(data: bytes, columns: bool, directory: str, cut: int = 65536) -> MetricStore:
    store = MetricStore(directory)
    splitter, parser = LineSplitter(), MetricParser("rdt")
    for i in range(0, len(data), cut):
        lines = splitter.feed(data[i : i + cut])
        if columns:
            store.append(parser.parse_points(lines), 1.0)
        else:
            store.append(parser.parse_lines(lines), 1.0)
    store.save_cursor({})
    return store


def test_bars_as_columns_store_what_points_store(tmp_path: Any) -> None:
    data = rdt_like_log(3000)
    parsed = MetricParser("rdt").parse_points(LineSplitter().feed(data))
    assert any(not isinstance(p, list) for p in parsed.parts), "no bar block: nothing tested"
    by_points = feed(data, False, str(tmp_path / "points"))
    by_columns = feed(data, True, str(tmp_path / "columns"))
    assert store_state(by_columns) == store_state(by_points)
    assert len(by_columns.since(0, 10**9)[0]["series"]["loss"]["seq"]) == 3000  # one per step
    # The records on disk replay to the same store.
    for store in (by_points, by_columns):
        store.close()
    again = MetricStore(str(tmp_path / "columns"))
    assert again.load() is not None
    assert store_state(again) == store_state(by_points)


def test_a_block_repainting_the_series_last_point_replaces_it(tmp_path: Any) -> None:
    """Bars of the same step in a row, and a first bar of the step the series ended with:
    the later value wins under a new seq, exactly as point by point."""
    steps = [5, 5, 6, 6, 6, 7]
    values = [[0.5, 0.4, 0.3, 0.2, 0.1, 0.0], [1.0] * 6]
    head = [MetricPoint("loss", 9.0, 5), MetricPoint("val", 2.0, None)]
    block = ParsedPoints()
    block.extend(head)
    block.block(("loss", "lr"), steps, values)
    block.append(MetricPoint("loss", 7.0, 7))
    columns = MetricStore(str(tmp_path / "c"))
    columns.append(block, 1.0)
    points = MetricStore(str(tmp_path / "p"))
    points.append(block.to_list(), 1.0)
    assert store_state(columns) == store_state(points)
    loss = columns.since(0, 100)[0]["series"]["loss"]
    assert loss["step"] == [5, 6, 7] and loss["value"] == [0.4, 0.1, 7.0]


def test_a_refused_name_in_a_block_goes_point_by_point(tmp_path: Any) -> None:
    block = ParsedPoints()
    block.block(("loss", "x" * 300), [1, 2], [[0.5, 0.4], [1.0, 2.0]])
    store = MetricStore(str(tmp_path))
    store.append(block, 1.0)
    assert store.names == ["loss"] and store.dropped == 2


def test_long_history_from_summaries_keeps_spikes_nan_first_and_last(tmp_path: Any) -> None:
    n = metricsummary.LONG * 3 + 123
    values = array("d", (1.0 / (i + 1) for i in range(n)))
    spike, dip, nan_at = n // 3 + 7, n // 2 + 11, (n * 3) // 4 + 5
    values[spike], values[dip], values[nan_at] = 1e6, -1e6, math.nan
    block = ParsedPoints()
    block.block(("loss",), list(range(n)), [list(values)])
    store = MetricStore(str(tmp_path))
    store.append(block, 1.0)
    hist = store.history(["loss"], 500)["series"]["loss"]
    got = hist["value"]
    assert hist["count"] == n and len(got) <= 500
    assert hist["step"][0] == 0 and hist["step"][-1] == n - 1
    assert 1e6 in got and -1e6 in got and "nan" in got
    assert hist["step"] == sorted(hist["step"])
    # Every bucket's extremes: the view's min and max are the series' (NaN aside).
    finite = [v for v in got if isinstance(v, float)]
    assert max(finite) == 1e6 and min(finite) == -1e6


def test_a_short_history_is_the_exact_downsample(tmp_path: Any) -> None:
    n = 5000
    values = [math.sin(i / 50.0) for i in range(n)]
    store = MetricStore(str(tmp_path))
    store.append([MetricPoint("loss", v, i) for i, v in enumerate(values)], 1.0)
    hist = store.history(None, 200)["series"]["loss"]
    assert hist["step"] == downsample_minmax(values, 200)


@pytest.mark.parametrize("target", [2, 3, 4, 5, 9, 40])
def test_summaries_respect_a_small_target(target: int) -> None:
    n = metricsummary.LONG + 5 * metricsummary.BLOCK + 1
    values = array("d", (float(i % 977) for i in range(n)))
    picked = metricsummary.pick(values, metricsummary.Summary(), target)
    assert picked[0] == 0 and picked[-1] == n - 1 and len(picked) <= target
    assert picked == sorted(set(picked))


def test_a_summary_never_covers_the_last_point(tmp_path: Any) -> None:
    """The last point may still be replaced by a repaint: the block holding it waits."""
    n = metricsummary.LONG + metricsummary.BLOCK  # the last point ends a block
    store = MetricStore(str(tmp_path))
    block = ParsedPoints()
    block.block(("loss",), list(range(n)), [[1.0] * (n - 1) + [0.0]])
    store.append(block, 1.0)
    assert 0.0 in store.history(None, 100)["series"]["loss"]["value"]
    store.append([MetricPoint("loss", 5.0, n - 1)], 2.0)  # a repaint of the last step
    hist = store.history(None, 100)["series"]["loss"]
    assert 5.0 in hist["value"] and 0.0 not in hist["value"] and hist["count"] == n
    assert os.path.exists(os.path.join(str(tmp_path), "points.bin"))


def test_summaries_survive_a_restart_and_never_outgrow_the_records(tmp_path: Any) -> None:
    """The cursor's save writes summary.bin, so a restarted daemon's first history reads no
    point twice; a summary covering points that the records lost (a crash) is not used."""
    n = metricsummary.LONG + 10 * metricsummary.BLOCK
    block = ParsedPoints()
    block.block(("loss",), list(range(n)), [[math.cos(i / 999.0) for i in range(n)]])
    store = MetricStore(str(tmp_path))
    store.append(block, 1.0)
    store.save_cursor({})
    before = store.history(None, 300)
    store.close()
    again = MetricStore(str(tmp_path))
    assert again.load() is not None
    summary = again._series[0].summary
    assert len(summary.mins) == (n - 1) // metricsummary.BLOCK  # read back, not computed
    assert again.history(None, 300) == before
    # summary.bin from a longer past: more blocks than the points now kept.
    data = metricsummary.dump([summary])
    assert metricsummary.load(data, [n]) and not metricsummary.load(data, [metricsummary.BLOCK])


def test_a_finished_run_is_sealed_and_mapped_not_loaded(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A finished run's columns are written once to columns.bin; a restarted daemon maps it
    (no replay of points.bin) and answers since/history as the loaded store did; a new point
    takes the columns back into memory, and the store replays as usual afterwards."""
    from rdt_tui.agent import metricseal

    monkeypatch.setattr(metricseal, "SEAL_MIN", 1000)
    n = metricsummary.LONG + 3 * metricsummary.BLOCK
    block = ParsedPoints()
    block.block(("loss", "lr"), list(range(n)), [[1.0 / (i + 1) for i in range(n)], [0.1] * n])
    store = MetricStore(str(tmp_path))
    store.append(block, 1.0)
    store.append([MetricPoint("val", math.nan, n - 1)], 2.0)
    store.save_cursor({"finished": True})
    want = store_state(store), store.history(None, 300), store.since(n - 5, 10)
    store.close()

    def no_replay(*args: Any) -> bool:
        raise AssertionError("a sealed store must not replay points.bin")

    again = MetricStore(str(tmp_path))
    with monkeypatch.context() as m:
        m.setattr(MetricStore, "_replay", no_replay)
        assert again.load() is not None
    assert isinstance(again._series[0].value, memoryview)
    assert (store_state(again), again.history(None, 300), again.since(n - 5, 10)) == want
    again.save_cursor({"finished": True})  # the daemon's first poll: not written again
    again.append([MetricPoint("loss", 0.5, n)], 3.0)
    assert isinstance(again._series[0].value, array)
    again.save_cursor({})
    again.close()
    third = MetricStore(str(tmp_path))
    assert third.load() is not None and third.last_seq == 2 * n + 2
    assert third.since(0, 10**9)[0]["series"]["loss"]["value"][-1] == 0.5


@pytest.mark.parametrize("cut", [9973, 65536])
def test_the_fast_path_on_real_tqdm_output_equals_the_reference_parser(cut: int) -> None:
    """Real tqdm bars (update(1) then set_postfix per step, logging lines between), fed in
    pieces: the points as columns (the agent's path) equal the line-by-line reference."""
    data = rdt_like_log(4000)
    for fmt in ("rdt", "auto"):
        fast, slow = MetricParser(fmt), MetricParser(fmt, fast=False)
        split_fast, split_slow = LineSplitter(), LineSplitter()
        got: list[MetricPoint] = []
        want: list[MetricPoint] = []
        blocks = 0
        for i in range(0, len(data), cut):
            parsed = fast.parse_points(split_fast.feed(data[i : i + cut]))
            blocks += sum(not isinstance(p, list) for p in parsed.parts)
            got.extend(parsed)
            want.extend(slow.parse_lines(split_slow.feed(data[i : i + cut])))
        assert blocks and got == want and len(want) > 8000


def test_bars_padded_with_spaces_take_the_fast_path() -> None:
    """tqdm pads a repaint shorter than the one before with spaces: such bars are still read
    as columns (they went line by line before), with the reference's points."""
    lines = [
        f"Steps:   1%|#   | {i}/100 [00:01<00:10, 1.00it/s, loss={1 / i:.3g}, lr=0.1]"
        + " " * (i % 3)
        for i in range(1, 101)
    ]
    for fmt in ("rdt", "auto"):
        parsed = MetricParser(fmt).parse_points(lines)
        assert [len(p.steps) for p in parsed.parts if not isinstance(p, list)] == [100]
        assert parsed.to_list() == MetricParser(fmt, fast=False).parse_lines(lines)
