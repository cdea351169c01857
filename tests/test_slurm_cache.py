"""One `scontrol show job` serves every look at a job within its cache time (each watcher
polls its run's status; slurmctld is shared by the whole cluster); a stop's forget asks again.
The real scontrol of the lab answers; the calls are counted around it."""

from __future__ import annotations

from typing import Any

import pytest

from rdt_tui.agent import slurm as agent_slurm

from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture


def test_scontrol_is_asked_once_per_cache_time_and_again_after_forget(
    slurm: SlurmLab,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []
    real = agent_slurm._run

    def counted(argv: list[str], timeout: float = agent_slurm.CMD_TIMEOUT_S) -> Any:
        calls.append(list(argv))
        return real(argv, timeout)

    monkeypatch.setattr(agent_slurm, "_run", counted)
    monkeypatch.setattr(agent_slurm, "CACHE_S", 3600.0)
    job = "987655"  # no such job: the lab's scontrol says "Invalid job id"
    agent_slurm.forget(job)
    answers = [agent_slurm.job_info(job) for _ in range(3)]
    assert answers == [None, None, None]
    # one call, three looks (then sacct once: slurmctld forgot the job, accounting may know)
    assert [c[:3] for c in calls] == [["scontrol", "show", "job"], ["sacct", "-j", job]]
    agent_slurm.forget(job)
    agent_slurm.job_info(job)
    assert len(calls) == 4
