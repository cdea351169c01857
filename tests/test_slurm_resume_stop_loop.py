"""A Slurm stop taken over after a daemon restart (SlurmSupervisor.resume_stop) runs as a task
of the daemon that already serves clients. Its looks at the job (``scontrol show job``, up to
30 s when slurmctld is slow, and the cache is forgotten just before) must run off the event
loop, like the first stop's: a unit test of the supervisor with a stand-in summary that notes
the thread it runs on. A stop.json that is JSON but not an object is a stop without notes, not
an exception in the task."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from rdt_tui.agent import slurm
from rdt_tui.agent.runs import RunStore
from rdt_tui.agent.supervisor import SlurmSupervisor


class Store:
    """The RunStore calls resume_stop makes; ``summary`` says on which thread it was asked."""

    def __init__(self, run_dir: Path, status: str, cancelled: list[str]) -> None:
        self.dir = run_dir
        self.status = status
        self.cancelled = cancelled
        self.on_loop_thread: list[bool] = []

    def run_dir(self, run_id: str) -> str:
        return str(self.dir)

    def spec(self, run_id: str) -> dict[str, Any]:
        return {}

    def summary(self, run_id: str) -> dict[str, Any]:
        self.on_loop_thread.append(threading.current_thread() is threading.main_thread())
        return {"id": run_id, "status": "cancelled" if self.cancelled else self.status}


@pytest.fixture
def no_slurm(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    cancelled: list[str] = []
    monkeypatch.setattr(slurm, "job_of", lambda run_dir: "42")
    monkeypatch.setattr(slurm, "forget", lambda job: None)

    def cancel(job: str) -> str:
        cancelled.append(job)
        return ""

    monkeypatch.setattr(slurm, "cancel", cancel)
    monkeypatch.setattr(slurm, "signal_job", lambda job, name: "")
    return cancelled


@pytest.mark.parametrize("status", ["pending", "stopped"])
async def test_resume_stop_asks_slurm_off_the_event_loop(
    tmp_path: Path, no_slurm: list[str], status: str
) -> None:
    (tmp_path / "stop.json").write_text('{"requested_at": 0, "signal": 2, "grace": 0}')
    store = Store(tmp_path, status, no_slurm)
    sup = SlurmSupervisor(store, [])  # type: ignore[arg-type]
    await sup.resume_stop("r1")
    assert store.on_loop_thread and not any(store.on_loop_thread), store.on_loop_thread


@pytest.mark.parametrize(
    "text", ["[1, 2]", '"stop"', "7", '{"signalling": true, "grace": "soon", "requested_at": 0}']
)
async def test_a_stop_json_that_is_not_an_object_is_a_stop_without_notes(
    tmp_path: Path, no_slurm: list[str], text: str
) -> None:
    (tmp_path / "stop.json").write_text(text)
    store = Store(tmp_path, "running", no_slurm)  # ends once the cancel went out
    sup = SlurmSupervisor(store, [])  # type: ignore[arg-type]
    done = await sup.resume_stop("r1")
    assert done["status"] == "cancelled" and no_slurm == ["42"]


def test_the_stand_in_store_has_the_calls_it_stands_for() -> None:
    for name in ("run_dir", "spec", "summary"):
        assert callable(getattr(RunStore, name))


@pytest.mark.parametrize("text", ["[1, 2]", '"stop"', "7"])
async def test_a_local_runs_stop_json_that_is_not_an_object_does_not_stop_the_adopt(
    tmp_path: Path, text: str
) -> None:
    """The local twin (AgentService._resume_stop, called from adopt() as the daemon starts):
    an exception there would end every daemon start."""
    from rdt_tui.agent.service import AgentService

    svc = AgentService(str(tmp_path), [])
    run_dir = Path(svc.store.root) / "r1"
    run_dir.mkdir()
    (run_dir / "stop.json").write_text(text)
    svc._resume_stop("r1")
    task = svc._stops.pop("r1")
    task.cancel()
