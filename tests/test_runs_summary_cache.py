"""`runs` over many ended runs: an ended run's summary is kept, keyed by the stat of its
files, so a second listing reads no run file and the process table is not read at all; a
change of any of its files is seen at once, and a run that may still change is never kept."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from rdt_tui.agent import files, runs
from rdt_tui.agent.procs import start_time
from rdt_tui.agent.runs import RunStore
from rdt_tui.agent.shim import seal

KEY = "k" * 32


def write(path: Path, obj: Any, age_s: float = 60.0) -> None:
    path.write_text(json.dumps(obj))
    then = time.time() - age_s  # settled: older than SETTLED_S
    os.utime(path, (then, then))


def ended_run(store: RunStore, run_id: str, code: int = 0, age_s: float = 60.0) -> Path:
    d = Path(store.root) / run_id
    d.mkdir()
    spec: dict[str, Any] = {"id": run_id, "argv": ["python", "train.py"], "cwd": "/tmp"}
    spec.update(shim_key=KEY, created_at=time.time() - 100)
    write(d / "spec.json", spec, age_s)
    # pid 1 with a start time it never had: a job that is gone
    write(d / "state.json", {"pid": 1, "start_time": -5, "started_at": time.time() - 90}, age_s)
    record = {"code": code, "signal": None, "ended_at": time.time() - 80}
    write(d / "exit.json", dict(record, mac=seal(record, KEY)), age_s)
    return d


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"read_json": 0, "process_table": 0}
    real_read, real_table = files.read_json, runs.process_table

    def read_json(path: str) -> Any:
        calls["read_json"] += 1
        return real_read(path)

    def process_table() -> Any:
        calls["process_table"] += 1
        return real_table()

    monkeypatch.setattr(runs, "read_json", read_json)
    monkeypatch.setattr(runs, "process_table", process_table)
    return calls


def test_a_second_listing_of_ended_runs_reads_no_run_file(
    tmp_path: Path, counted: dict[str, int]
) -> None:
    store = RunStore(str(tmp_path))
    for i in range(5):
        ended_run(store, f"run-{i}", code=i)
    first = store.summaries()
    assert [s["status"] for s in first] == ["exited"] * 5
    assert [s["exit_code"] for s in first] == [0, 1, 2, 3, 4]
    assert counted["process_table"] == 0  # no run needed /proc's table
    counted["read_json"] = 0
    again = store.summaries()
    assert again == first
    assert counted["read_json"] == 0
    # What a caller does to its copy does not reach the kept one.
    again[0]["argv"].append("--oops")
    again[0]["status"] = "changed"
    assert store.summaries() == first


def test_a_changed_file_of_an_ended_run_is_seen(tmp_path: Path, counted: dict[str, int]) -> None:
    store = RunStore(str(tmp_path))
    d = ended_run(store, "run-a")
    assert store.summary("run-a")["status"] == "exited"
    write(d / "stop.json", {"signal": 15}, age_s=0)  # a stop asked for: now "stopped"
    assert store.summary("run-a")["status"] == "stopped"
    (d / "stop.json").unlink()
    assert store.summary("run-a")["status"] == "exited"
    record = {"code": 3, "signal": None, "ended_at": time.time()}
    write(d / "exit.json", dict(record, mac="forged"), age_s=0)  # same run, another record
    s = store.summary("run-a")
    assert s["exit_code"] is None and "not written by the run's monitor" in s["error"]


def test_a_run_whose_files_just_changed_is_read_again_each_time(
    tmp_path: Path, counted: dict[str, int]
) -> None:
    store = RunStore(str(tmp_path))
    ended_run(store, "run-new", age_s=0)  # written this instant: may change within a tick
    store.summary("run-new")
    counted["read_json"] = 0
    store.summary("run-new")
    assert counted["read_json"] > 0


def test_a_live_run_is_never_kept(tmp_path: Path, counted: dict[str, int]) -> None:
    store = RunStore(str(tmp_path))
    d = ended_run(store, "run-live")
    (d / "exit.json").unlink()
    write(d / "state.json", {"pid": os.getpid(), "start_time": start_time(os.getpid())})
    assert store.summary("run-live")["status"] == "running"
    assert "run-live" not in store._ended


def test_a_removed_run_is_forgotten(tmp_path: Path, counted: dict[str, int]) -> None:
    import shutil

    store = RunStore(str(tmp_path))
    d = ended_run(store, "run-gone")
    ended_run(store, "run-stays")
    assert {s["id"] for s in store.summaries()} == {"run-gone", "run-stays"}
    assert set(store._ended) == {"run-gone", "run-stays"}
    shutil.rmtree(d)
    assert [s["id"] for s in store.summaries()] == ["run-stays"]
    assert set(store._ended) == {"run-stays"}
