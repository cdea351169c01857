"""The agent's alert engine on one layer: the idle and disk rules fed by hand (a stand-in for
the daemon's GPU sampler and run watcher), alerts read back from the real alert log."""

from __future__ import annotations

import collections
from typing import Any

from rdt_tui.agent.alerting import AlertEngine
from rdt_tui.agent.alertstate import RunAlerts
from rdt_tui.cli.alerts import parse_since
from rdt_tui.core.alerts import DEFAULT_RULES, merge_rules


class Service:
    def __init__(self, root: str) -> None:
        self.root = root
        self.watchers: dict[str, Any] = {}
        self.gpu_samples: collections.deque[tuple[int, dict[str, Any]]] = collections.deque()


class Watcher:
    def __init__(self, checkpoints: dict[str, dict[str, Any]]) -> None:
        self.checkpoints = checkpoints


def sample(t: float, utils: list[float], run: str | None) -> dict[str, Any]:
    procs = [{"run": run}] if run else []
    gpus = [{"index": i, "util": u, "processes": procs} for i, u in enumerate(utils)]
    return {"t": t, "gpus": gpus}


def engine_and_run(root: str, **rules: Any) -> tuple[AlertEngine, RunAlerts]:
    engine = AlertEngine(Service(root))
    merged, problems = merge_rules(DEFAULT_RULES, rules)
    assert not problems
    return engine, RunAlerts("r1", root, merged)


def test_idle_counts_only_the_runs_gpus_and_rearms_when_busy(tmp_path: Any) -> None:
    engine, st = engine_and_run(str(tmp_path), idle_after_s=60.0)
    samples = engine.service.gpu_samples
    # The run's GPU 0 idles while another job keeps GPU 1 busy: that is still an idle run.
    for seq, t in enumerate(range(0, 130, 10), start=1):
        samples.append((seq, sample(float(t), [0.0, 0.0], "r1")))
        samples[-1][1]["gpus"][1].update(util=99.0, processes=[{"run": "other"}])
    engine._running_rules(st, {"status": "running"}, Watcher({}), None, 130.0)
    assert [a["kind"] for a in engine.log.read()] == ["idle"]
    engine._running_rules(st, {"status": "running"}, Watcher({}), None, 131.0)
    assert len(engine.log.read()) == 1  # once, not at every sample
    samples.append((99, sample(140.0, [90.0, 90.0], "r1")))
    engine._running_rules(st, {"status": "running"}, Watcher({}), None, 140.0)
    for seq, t in enumerate(range(150, 290, 10), start=100):
        samples.append((seq, sample(float(t), [1.0, 1.0], "r1")))
    engine._running_rules(st, {"status": "running"}, Watcher({}), None, 290.0)
    assert [a["kind"] for a in engine.log.read()] == ["idle", "idle"]  # busy again, then idle


def test_no_gpus_is_never_idle(tmp_path: Any) -> None:
    engine, st = engine_and_run(str(tmp_path), idle_after_s=0.0)
    engine.service.gpu_samples.append((1, {"t": 1.0, "gpus": []}))
    engine.service.gpu_samples.append((2, {"t": 999.0, "gpus": []}))
    engine._running_rules(st, {"status": "running"}, Watcher({}), None, 999.0)
    assert engine.log.read() == []


def test_disk_alert_when_the_next_checkpoint_does_not_fit(tmp_path: Any) -> None:
    engine, st = engine_and_run(str(tmp_path))
    ckpts = {
        "a": {"size": 4e9, "mtime": 100.0},
        "b": {"size": 6e9, "mtime": 200.0},
    }
    engine._running_rules(st, {"status": "running"}, Watcher(ckpts), 50e9, 210.0)
    assert engine.log.read() == []
    engine._running_rules(st, {"status": "running"}, Watcher(ckpts), 5e9, 220.0)
    [alert] = engine.log.read()
    assert alert["kind"] == "disk" and "5.0 GB free" in alert["message"]


def test_time_limit_hook_fires_only_when_a_supervisor_reports_one(tmp_path: Any) -> None:
    engine, st = engine_and_run(str(tmp_path))
    engine._running_rules(st, {"status": "running"}, Watcher({}), None, 1.0)
    assert engine.log.read() == []  # today: nothing reports `time_left`
    engine._running_rules(st, {"status": "running", "time_left": 600.0}, Watcher({}), None, 2.0)
    assert [a["kind"] for a in engine.log.read()] == ["time_limit"]


def test_parse_since() -> None:
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    assert parse_since("1700000000") == 1700000000.0
    assert parse_since("30m", now=3600.0) == 1800.0


def _fault(where: int, path: str) -> OSError:
    """An EMFILE raised at one of two sites, naming a file as the real one does."""
    try:
        if where == 0:
            raise OSError(24, "Too many open files", path)
        raise OSError(24, "Too many open files", path)
    except OSError as exc:
        return exc


def test_a_fault_repeating_every_tick_is_logged_once_a_minute(tmp_path: Any, capsys: Any) -> None:
    engine, _ = engine_and_run(str(tmp_path))
    # Each save names a fresh temporary file, and two sites fail in turn (load, then save):
    # still one line per site, not one per tick.
    for i in range(50):
        engine._log_error(_fault(i % 2, f"/state/.tmp-{i:08x}"))
    engine._log_error(ValueError("another fault"))
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    assert len(lines) == 3, lines
    assert "Too many open files" in lines[0] and "another fault" in lines[2]


class Metrics:
    last_seq = 500

    def since(self, seq: int, limit: int) -> tuple[dict[str, Any], int]:
        assert seq == 500, "the history before the engine came must not be judged"
        return {"series": {}, "count": 0}, seq


def test_a_live_run_older_than_the_engine_is_judged_from_now_on(tmp_path: Any) -> None:
    """An agent upgrade meets a run that has been training for an hour: its old Traceback
    (handled long ago) and old NaNs are history, a new fatal line is news."""
    engine, st = engine_and_run(str(tmp_path))
    output = tmp_path / "output.log"
    output.write_text("Traceback (most recent call last): handled at step 3\n")
    w = Watcher({})
    w.output_log, w.metrics = str(output), Metrics()  # type: ignore[attr-defined]
    engine.service.watchers["r1"] = w
    summary = {"status": "running", "started_at": 1000.0}
    old = output.read_text()
    engine._evaluate(st, summary, old, len(old), None, 1000.0 + 3600)
    assert engine.log.read() == [] and st.log_pos == len(old)
    new = "RuntimeError: NCCL communicator was aborted\n"
    engine._evaluate(st, summary, new, len(old) + len(new), None, 1000.0 + 3601)
    assert [a["kind"] for a in engine.log.read()] == ["fatal_line"]
