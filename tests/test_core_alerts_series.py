"""The numbers behind the console's charts and alerts."""

from __future__ import annotations

import math
import random

from rdt_tui.core.alerts import IdleWatch, SpikeDetector, laggards, seconds_until_full
from rdt_tui.core.metrics import bar_progress
from rdt_tui.core.series import TieredSeries, ema
from rdt_tui.tui.widgets.loss_chart import HISTORY, Series
from rdt_tui.tui.widgets.sparkline import BLOCKS, spark


def test_a_spike_is_found_and_noise_is_not() -> None:
    rng = random.Random(1)
    det = SpikeDetector()
    noisy = [1.0 / (1 + i / 100) + rng.gauss(0, 0.02) for i in range(500)]
    assert not any(det.feed(v) for v in noisy)
    assert det.feed(5.0)
    assert det.feed(5.0)  # a spike stays out of the baseline: the next one is seen too
    assert not det.feed(float("nan"))  # NaN has its own alert
    assert not det.feed(noisy[-1])


def test_a_lagging_gpu_is_named_only_when_the_others_are_busy() -> None:
    assert laggards({0: 95, 1: 94, 2: 40, 3: 96}) == [2]
    assert laggards({0: 95, 1: 80, 2: 90}) == []
    assert laggards({0: 10, 1: 2}) == []  # all idle is not a lag
    assert laggards({0: 99}) == []


def test_idle_gpus_alert_after_a_minute_and_clear_when_busy() -> None:
    watch = IdleWatch(below=5, after_s=60)
    assert not watch.feed(0, [0, 1])
    assert not watch.feed(59, [0, 1])
    assert watch.feed(60, [0, 1])
    assert not watch.feed(61, [0, 50])
    assert not watch.feed(62, [None, None])
    assert not watch.feed(100, [0, 0])


def test_disk_full_eta() -> None:
    assert seconds_until_full([(0, 1000.0), (10, 900.0)]) == 90.0
    assert seconds_until_full([(0, 1000.0), (10, 1000.0)]) is None
    assert seconds_until_full([(0, 1000.0)]) is None


def test_bar_progress_takes_the_newest_bar_state() -> None:
    text = "Steps:  1%| 12/2000 [00:01<10:00, loss=0.1]\rSteps:  1%| 13/2000 [00:02<10:00]"
    assert bar_progress(text) == (13, 2000)
    assert bar_progress("no bar here") is None
    assert bar_progress("x" * 10000 + " 5/10 [00:01<00:01]") == (5, 10)


def test_tiered_series_keeps_an_hour_fine_and_a_day_coarse() -> None:
    s = TieredSeries(fine_s=3600, bucket_s=30, coarse_s=86400)
    for t in range(2 * 86400):
        s.add(float(t), (float(t % 100), None))
    assert len(s.fine) == 3601
    assert len(s.coarse) == 86400 // 30  # bounded however long it runs
    minute = s.window(60)
    assert len(minute) == 61 and minute[-1][0] == 2 * 86400 - 1
    six_hours = s.window(6 * 3600)
    # the hour before now comes at full rate, the five before it in 30 s buckets
    assert 5 * 3600 // 30 - 2 <= len(six_hours) - 3601 <= 5 * 3600 // 30
    _mid, values = s.coarse[-1]
    assert (
        values[1] is None and values[0] is not None and 0 <= values[0] <= 99
    )  # an average of what fell in it
    s.add(10.0, (1.0, 1.0))  # an old sample replayed after a reconnect is ignored
    assert s.fine[-1][0] == 2 * 86400 - 1


def test_ema_is_debiased_and_incremental_smoothing_matches_it() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert ema(values, 0.0) == values
    smoothed = ema(values, 0.9)
    assert smoothed[0] == 1.0  # debiased: the first point is not pulled to zero
    series = Series()
    for i, v in enumerate(values[:3]):
        series.add(i, v, float(i))
    series.smoothed(0.9)
    for i, v in enumerate(values[3:], 3):
        series.add(i, v, float(i))
    assert all(math.isclose(a, b) for a, b in zip(series.smoothed(0.9), smoothed, strict=True))


def test_chart_series_is_bounded_and_keeps_a_spike() -> None:
    series = Series()
    for i in range(HISTORY + 1):
        series.add(i, 100.0 if i == 1234 else 1.0, float(i))
    assert len(series) <= HISTORY // 2 + 2
    assert 100.0 in series.values and series.steps[-1] == HISTORY


def test_sparkline_places_samples_in_time() -> None:
    samples = [(85.0, (100.0,)), (99.0, (0.0,))]
    line = spark(samples, 0, start=0.0, seconds=100.0, width=10, top=100.0)
    assert len(line) == 10 and line[:9] == " " * 8 + BLOCKS[-1] and line[9] == BLOCKS[0]
