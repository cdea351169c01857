"""A Slurm run whose job slurmctld has forgotten (no accounting: MinJobAge after its end):
the shim's sealed exit record and the last state we saw say how it ended. The real scontrol of
the lab answers "Invalid job id" for the job ids used here."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from rdt_tui.agent import slurm as agent_slurm
from rdt_tui.agent.runs import RunStore
from rdt_tui.agent.shim import seal

from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture


def gone_run(store: RunStore, last: dict[str, Any] | None, exit_code: int | None) -> str:
    run_id = store.create({"argv": ["true"], "name": "gone", "scheduler": "slurm", "slurm": {}})
    path = store.run_dir(run_id)
    record: dict[str, Any] = {"job_id": "987654", "submitted_at": 0}
    if last is not None:
        record["last"] = last
    with open(os.path.join(path, "slurm.json"), "w") as fh:
        json.dump(record, fh)
    if exit_code is not None:
        exit_info: dict[str, Any] = {"code": exit_code, "signal": None, "ended_at": 1.0}
        exit_info["mac"] = seal(exit_info, store.spec(run_id)["shim_key"])
        with open(os.path.join(path, "exit.json"), "w") as fh:
            json.dump(exit_info, fh)
    agent_slurm.forget("987654")
    return run_id


@pytest.mark.parametrize(
    ("last_state", "exit_code", "stopped", "status", "words"),
    [
        ("RUNNING", 4, False, "exited", None),  # ended after our last look: the shim's code
        ("RUNNING", 130, True, "stopped", None),
        ("RUNNING", None, False, "lost", "ended before our monitor could record it"),
        ("TIMEOUT", None, False, "timeout", "Slurm ended the job: TIMEOUT"),
        ("NODE_FAIL", None, False, "node_fail", "NODE_FAIL"),
        ("CANCELLED", None, False, "stopped", "cancelled outside rdt-tui"),
        ("PENDING", None, False, "lost", None),
    ],
)
def test_a_forgotten_job_ends_as_the_shim_and_the_last_look_say(
    slurm: SlurmLab,  # noqa: F811
    state_dir: str,
    last_state: str,
    exit_code: int | None,
    stopped: bool,
    status: str,
    words: str | None,
) -> None:
    store = RunStore(state_dir)
    run_id = gone_run(store, {"state": last_state, "reason": "None", "exit": "0:0"}, exit_code)
    if stopped:
        store.mark_stop(run_id, 2, 1.0)
    s = store.summary(run_id)
    assert s["status"] == status, s
    assert s["slurm_job_id"] == "987654" and s["slurm_state"] == last_state
    if exit_code is not None:
        assert s["exit_code"] == exit_code
    if words:
        assert words in (s.get("error") or ""), s


def test_a_slurm_shims_pid_is_not_taken_for_a_local_process(state_dir: str) -> None:
    """The pids in a Slurm run's state.json are the compute node's: the same number on this
    host is some other process, which must not vanish from a local run's membership."""
    import subprocess
    import sys

    from rdt_tui.agent.procs import RUN_ENV

    store = RunStore(state_dir)
    local = store.create({"argv": ["sleep"], "name": "local"})
    worker = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env=dict(os.environ, **{RUN_ENV: local}),
    )
    try:
        other = store.create({"argv": ["true"], "name": "remote", "scheduler": "slurm"})
        with open(os.path.join(store.run_dir(other), "state.json"), "w") as fh:
            json.dump({"shim_pid": worker.pid, "shim_start": 1, "slurm_node": "n1"}, fh)
        assert worker.pid in store.members(local)
    finally:
        worker.kill()
        worker.wait()


def test_an_ended_job_is_not_asked_of_slurm_again(
    state_dir: str, workdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`runs` looks at every run: an old Slurm run's end is in slurm.json, not in a scontrol
    call per run (here there is no scontrol at all, and nothing says Slurm failed to answer)."""
    monkeypatch.setenv("PATH", workdir)
    store = RunStore(state_dir)
    run_id = gone_run(store, {"state": "TIMEOUT", "reason": "TimeLimit", "exit": "0:15"}, None)
    s = store.summary(run_id)
    assert s["status"] == "timeout" and "did not answer" not in (s.get("error") or ""), s
