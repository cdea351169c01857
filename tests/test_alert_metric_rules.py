"""The alert engine's metric rules on a real metric store (agent/alertmetrics.py): the loss
read as the store's arrays, a healthy batch fed to the spike detector without a step per
value, and the NaN, spike and step judgements as before."""

from __future__ import annotations

import math
from typing import Any

from rdt_tui.agent.alertmetrics import judge_metrics
from rdt_tui.agent.alertstate import RunAlerts
from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.core import alerts
from rdt_tui.core.alerts import DEFAULT_RULES, SpikeDetector
from rdt_tui.core.metrics import MetricPoint


def judge(tmp_path: Any, batches: list[list[MetricPoint]]) -> tuple[RunAlerts, list[tuple]]:
    store = MetricStore(str(tmp_path / "m"))
    st = RunAlerts("r1", str(tmp_path), dict(DEFAULT_RULES))
    raised: list[tuple] = []
    for batch in batches:
        store.append(batch, 1.0)
        judge_metrics(st, store, 1.0, lambda st, kind, sev, msg, now: raised.append((kind, msg)))
    return st, raised


def test_nan_loss_spike_and_steps(tmp_path: Any) -> None:
    healthy = [MetricPoint("loss", 1.0 + (i % 7) / 100, i) for i in range(1, 101)]
    lr = [MetricPoint("lr", 1e-4, i) for i in range(1, 101)]
    nan = [MetricPoint("loss", math.nan, 101), MetricPoint("loss", 1.0, None)]
    spike = [MetricPoint("loss", 50.0, 102), MetricPoint("acc", 0.5, None)]
    st, raised = judge(tmp_path, [healthy + lr, nan, spike])
    assert raised == [
        ("nonfinite", "NaN loss at step 101"),
        ("spike", "loss spike at step 102: 50"),
    ]
    assert st.last_step == 102 and st.metric_seq == 204


def test_points_without_a_step_count_as_progress(tmp_path: Any) -> None:
    st, raised = judge(tmp_path, [[MetricPoint("loss", 1.0, None)]])
    assert raised == [] and st.last_step is None and len(st.stall.times) == 1


def test_a_healthy_batch_is_fed_without_a_step_per_value(monkeypatch: Any) -> None:
    calls = {"isfinite": 0}

    class CountingMath:
        def __getattr__(self, name: str) -> Any:
            return getattr(math, name)

        @staticmethod
        def isfinite(value: float) -> bool:
            calls["isfinite"] += 1
            return math.isfinite(value)

    monkeypatch.setattr(alerts, "math", CountingMath())
    det = SpikeDetector()
    assert det.feed_many([1.0 + (i % 5) / 10 for i in range(1000)]) == []
    assert len(det.recent) == 200 and det._fed == 1000
    assert calls["isfinite"] <= 1  # one check of the batch's sum, not one per value
    assert det.feed_many([1.0, 90.0, math.inf, 1.1]) == [1]  # a spike: judged value by value
    assert list(det.recent)[-2:] == [1.0, 1.1]
