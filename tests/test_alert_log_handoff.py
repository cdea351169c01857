"""The alert engine takes output.log's fatal lines from the run's watcher (which reads those
bytes anyway) instead of reading the log again; only a gap the watcher skipped after a restart
is read by the engine itself. Real RunWatcher and LogFollower on a real file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rdt_tui.agent import alerting
from rdt_tui.agent.alerting import AlertEngine
from rdt_tui.agent.alertstate import RunAlerts
from rdt_tui.agent.watch import RunWatcher
from rdt_tui.core.alerts import DEFAULT_RULES


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root

    def run_dir(self, run_id: str) -> str:
        return str(self.root)

    def spec(self, run_id: str) -> dict[str, Any]:
        return {"cwd": str(self.root)}

    def summary(self, run_id: str) -> dict[str, Any]:
        return {"status": "running"}


def watcher(tmp_path: Path, text: str) -> tuple[RunWatcher, Path]:
    log = tmp_path / "output.log"
    log.write_text(text)
    return RunWatcher(Store(tmp_path), "r1"), log  # type: ignore[arg-type]


def no_reading(*args: Any) -> Any:
    raise AssertionError("the engine read output.log the watcher had read")


def test_the_engine_takes_the_watchers_fatal_lines(tmp_path: Path, monkeypatch: Any) -> None:
    w, log = watcher(tmp_path, "step 1 loss 2.0\nTraceback (most recent call last):\n")
    w._read_logs(False)
    st = RunAlerts("r1", str(tmp_path), dict(DEFAULT_RULES))
    monkeypatch.setattr(alerting, "read_chunk", no_reading)
    text, end = AlertEngine._log_news(st, w, False)
    assert "Traceback (most recent call last):" in text and end == log.stat().st_size
    st.log_pos = end
    assert AlertEngine._log_news(st, w, False) == ("", end), "a line already judged is not news"
    with log.open("a") as fh:
        fh.write("RuntimeError: NCCL communicator was aborted\n")
    w._read_logs(False)
    text, end = AlertEngine._log_news(st, w, False)
    assert text == "RuntimeError: NCCL communicator was aborted" and end == log.stat().st_size


def test_a_gap_the_watcher_skipped_is_read_by_the_engine(tmp_path: Path) -> None:
    """A restart: the watcher's cursor was saved past a Traceback the engine had not judged."""
    past = "Traceback (most recent call last):\n"
    w, _ = watcher(tmp_path, past)
    w.log_from = len(past)  # as if resumed from a saved cursor there
    st = RunAlerts("r1", str(tmp_path), dict(DEFAULT_RULES))
    text, end = AlertEngine._log_news(st, w, False)
    assert text == past and end == len(past)


def test_a_truncated_log_is_judged_from_its_start(tmp_path: Path) -> None:
    w, log = watcher(tmp_path, "x" * 1000 + "\n")
    w._read_logs(False)
    st = RunAlerts("r1", str(tmp_path), dict(DEFAULT_RULES))
    st.log_pos = AlertEngine._log_news(st, w, False)[1]
    log.write_text("CUDA out of memory\n")  # copytruncate, then the job writes on
    w._read_logs(False)
    text, _ = AlertEngine._log_news(st, w, False)
    assert text == "CUDA out of memory"
