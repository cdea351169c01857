"""Which source feeds a metric name that both the log and the event files give, and the
profile and launch keys that say so."""

from __future__ import annotations

import pytest

from rdt_tui.agent.eventfiles import EventSource
from rdt_tui.agent.runspec import metric_source_of
from rdt_tui.config.profiles import ProfileError, load_profile
from rdt_tui.core.metrics import MetricPoint
from rdt_tui.protocol.errors import AgentError
from tests.tfevents_ref import later

SummaryWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter


def _write(logdir: str, steps: range, value: float, name: str = "loss") -> None:
    w = SummaryWriter(logdir)
    for i in steps:
        w.add_scalar(name, value, i)
    w.close()


def _source(tmp_path, rule: object = None) -> EventSource:
    spec = {"cwd": str(tmp_path), "event_files": ["logs/*tfevents*"], "metric_source": rule}
    return EventSource(spec)


def test_a_name_both_give_in_one_poll_is_the_winners_only(tmp_path) -> None:
    _write(str(tmp_path / "logs"), range(3), 0.5)
    log = [MetricPoint("loss", 0.499, i) for i in range(3)] + [MetricPoint("grad", 1.0, 2)]
    src = _source(tmp_path)
    points, _ = src.merge(log, MetricPoint)
    assert [p for p in points if p.name == "loss"] == [
        MetricPoint("loss", 0.5, i) for i in range(3)
    ]
    assert MetricPoint("grad", 1.0, 2) in points  # only the log gives it: the log feeds it
    assert (src.source("loss"), src.source("grad")) == ("events", "log")
    src = _source(tmp_path, {"default": "events", "loss": "log"})
    points, _ = src.merge(log, MetricPoint)
    assert [p for p in points if p.name == "loss"] == log[:3]
    assert src.source("loss") == "log"


def test_the_winner_takes_over_a_name_the_other_gave_first(tmp_path) -> None:
    (tmp_path / "logs").mkdir()
    src = _source(tmp_path)
    first, _ = src.merge([MetricPoint("loss", 0.499, 0)], MetricPoint)
    assert first == [MetricPoint("loss", 0.499, 0)] and src.source("loss") == "log"
    _write(str(tmp_path / "logs"), range(2), 0.5)
    # New files are looked for every few seconds, and at once when the run has ended.
    assert src.merge([], MetricPoint)[0] == []
    second, _ = src.merge([MetricPoint("loss", 0.499, 1)], MetricPoint, final=True)
    assert second == [MetricPoint("loss", 0.5, 0), MetricPoint("loss", 0.5, 1)]
    assert src.source("loss") == "events"
    third, _ = src.merge([MetricPoint("loss", 0.499, 2)], MetricPoint)
    assert third == []  # the loser no longer feeds it
    # The choice survives a daemon restart (it is in the watcher's cursor).
    again = EventSource({"cwd": str(tmp_path), "event_files": ["logs/*tfevents*"]}, src.cursor())
    assert again.merge([MetricPoint("loss", 0.499, 3)], MetricPoint)[0] == []


def test_a_restart_in_the_same_poll_stores_no_orphans(tmp_path) -> None:
    from tensorboard.compat.proto import event_pb2

    for first, last, value in ((0, 30, 1.0), (20, 40, 2.0)):
        w = SummaryWriter(str(tmp_path / "logs"))
        fw = w._get_file_writer()
        fw.add_event(event_pb2.Event(step=first, session_log=event_pb2.SessionLog(status=1)))
        for i in range(first, last):
            w.add_scalar("loss", value, i)
        w.close()
        later()
    src = _source(tmp_path)
    points, _ = src.merge([], MetricPoint)
    assert [p.step for p in points] == list(range(40))
    assert {p.value for p in points if p.step >= 20} == {2.0}
    assert "steps went back to 20" in src.problems[0]


def test_profile_and_launch_keys(tmp_path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        'command = ["python", "train.py"]\n'
        'event_files = "logs/**/events.out.tfevents.*"\n'
        'metric_source = { default = "events", loss = "log" }\n'
    )
    profile = load_profile(str(path))
    args = profile.launch_args()
    assert args["event_files"] == ["logs/**/events.out.tfevents.*"]
    assert args["metric_source"] == {"default": "events", "loss": "log"}
    path.write_text('command = ["python"]\nmetric_source = "tensorboard"\n')
    with pytest.raises(ProfileError, match='"events" or "log"'):
        load_profile(str(path))
    path.write_text('command = ["python"]\nevent_files = 3\n')
    with pytest.raises(ProfileError, match="`event_files` must be a glob or a list of globs"):
        load_profile(str(path))
    assert metric_source_of(None) == "events"
    with pytest.raises(AgentError, match="metric_source"):
        metric_source_of({"loss": "both"})


def test_the_wire_and_the_chart_say_where_a_series_comes_from() -> None:
    from rdt_tui.protocol.wire import decode_columns, expand_points
    from rdt_tui.tui.widgets.loss_chart import LossChart

    page = {
        "series": {
            "loss": {"seq": [2], "step": [1], "value": [0.5], "source": "events"},
            "grad": {"seq": [1], "step": [1], "value": ["nan"]},  # an agent without sources
        },
        "times": [[1, 10.0]],
    }
    points = expand_points(page)
    assert [(p["name"], p["source"]) for p in points] == [("grad", "log"), ("loss", "events")]
    chart = LossChart()
    chart.add(decode_columns(page)["series"])
    assert chart.title_text().endswith("from events")  # "loss" is chosen first
    chart.metric = "grad"
    assert "from" not in chart.title_text()
