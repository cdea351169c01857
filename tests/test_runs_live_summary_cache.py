"""A live run's summary, asked for by its watcher every second: while its files are as they
were and its job (pid and start time) lives, it is kept, so a poll reads one /proc file
instead of four run files and two /proc files. Its job's end and any file change are seen at
once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rdt_tui.agent import runs
from rdt_tui.agent.procs import start_time
from rdt_tui.agent.runs import RunStore
from tests.test_runs_summary_cache import ended_run, write


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"read_json": 0, "start_time": 0}
    real_read, real_start = runs.read_json, runs.is_same_process

    def read_json(path: str) -> Any:
        calls["read_json"] += 1
        return real_read(path)

    def is_same_process(pid: Any, started: Any) -> bool:
        calls["start_time"] += 1
        return real_start(pid, started)

    monkeypatch.setattr(runs, "read_json", read_json)
    monkeypatch.setattr(runs, "is_same_process", is_same_process)
    return calls


def live_run(store: RunStore, run_id: str, pid: int, age_s: float = 60.0) -> Path:
    d = ended_run(store, run_id, age_s=age_s)
    (d / "exit.json").unlink()
    write(d / "state.json", {"pid": pid, "start_time": start_time(pid)}, age_s)
    return d


def test_a_live_runs_summary_is_kept_while_its_job_lives(
    tmp_path: Path, counted: dict[str, int]
) -> None:
    store = RunStore(str(tmp_path))
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live_run(store, "run-live", job.pid)
        first = store.summary("run-live")
        assert first["status"] == "running"
        counted["read_json"] = counted["start_time"] = 0
        for _ in range(5):
            assert store.summary("run-live") == first
        assert counted == {"read_json": 0, "start_time": 5}  # one /proc read a poll
        job.kill()
        job.wait()
        assert store.summary("run-live")["status"] != "running"  # its end: seen at once
        assert "run-live" not in store._live
    finally:
        job.kill()
        job.wait()


def test_a_changed_file_of_a_live_run_is_seen(tmp_path: Path, counted: dict[str, int]) -> None:
    store = RunStore(str(tmp_path))
    d = live_run(store, "run-live", os.getpid())
    assert store.summary("run-live")["stop_requested"] is False
    write(d / "stop.json", {"signal": 2}, age_s=0)
    assert store.summary("run-live")["stop_requested"] is True


def test_a_live_run_whose_files_just_changed_is_read_each_time(
    tmp_path: Path, counted: dict[str, int]
) -> None:
    store = RunStore(str(tmp_path))
    live_run(store, "run-new", os.getpid(), age_s=0)  # may change again within a clock tick
    store.summary("run-new")
    counted["read_json"] = 0
    store.summary("run-new")
    assert counted["read_json"] > 0


def test_a_removed_live_run_is_forgotten(tmp_path: Path, counted: dict[str, int]) -> None:
    import shutil

    store = RunStore(str(tmp_path))
    d = live_run(store, "run-gone", os.getpid())
    store.summaries()
    assert set(store._live) == {"run-gone"}
    shutil.rmtree(d)
    assert store.summaries() == []
    assert store._live == {}
