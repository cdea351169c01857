"""The alert engine keeps a Slurm job's GPU sampler step running for the idle rule, and only
when that rule is on and the job asked for GPUs (one layer: a stand-in service whose
``gpu_feed`` notes who asked; tests/test_slurm_idle_alert.py runs the real lab)."""

from __future__ import annotations

import collections
from typing import Any

import pytest

from rdt_tui.agent.alerting import AlertEngine
from rdt_tui.agent.alertstate import RunAlerts
from rdt_tui.core.alerts import DEFAULT_RULES, merge_rules


class JobGpus:
    def __init__(self) -> None:
        self.samples: dict[str, list[tuple[int, dict[str, Any]]]] = {}

    def sampled(self, job_id: str) -> list[tuple[int, dict[str, Any]]]:
        return self.samples.get(job_id, [])


class Service:
    def __init__(self, root: str) -> None:
        self.root = root
        self.watchers: dict[str, Any] = {}
        self.fed: list[str | None] = []
        self.job_gpus = JobGpus()
        # The login node's GPUs, idle: never to be judged for a Slurm run.
        idle = {"t": 0.0, "gpus": [{"index": 0, "util": 0.0, "processes": []}]}
        self.gpu_samples = collections.deque([(1, idle), (2, dict(idle, t=999.0))])

    def gpu_feed(self, run_id: str | None) -> list[tuple[int, dict[str, Any]]]:
        self.fed.append(run_id)
        return []


class Watcher:
    def __init__(self, slurm: dict[str, Any]) -> None:
        self.checkpoints: dict[str, Any] = {}
        self.spec = {"scheduler": "slurm", "slurm": slurm}


RUNNING = {"status": "running", "slurm_job_id": "42"}


@pytest.mark.parametrize(
    ("slurm", "idle", "kept"),
    [
        ({"nodes": 2, "gpus_per_node": 4}, True, True),
        ({"gres": "gpu:a100:2"}, True, True),
        ({"gpus_per_node": 4}, False, False),  # the rule is off: no step for it
        ({"nodes": 2}, True, False),  # no GPUs asked for
        ({"gres": "nvme:1"}, True, False),
    ],
)
def test_the_engine_keeps_the_jobs_sampler_step_only_for_an_idle_rule_on_gpus(
    tmp_path: Any, slurm: dict[str, Any], idle: bool, kept: bool
) -> None:
    engine = AlertEngine(Service(str(tmp_path)))
    rules, problems = merge_rules(DEFAULT_RULES, {"idle": idle, "idle_after_s": 0.0})
    assert not problems
    st = RunAlerts("r1", str(tmp_path), rules)
    engine._running_rules(st, RUNNING, Watcher(slurm), None, 1000.0)
    assert engine.service.fed == (["r1"] if kept else [])
    assert engine.log.read() == []  # the login node's idle GPUs were not judged


def test_the_jobs_samples_are_judged_and_the_alert_names_its_nodes(tmp_path: Any) -> None:
    engine = AlertEngine(Service(str(tmp_path)))
    rules, _ = merge_rules(DEFAULT_RULES, {"idle_after_s": 10.0})
    st = RunAlerts("r1", str(tmp_path), rules)
    gpus = [{"index": i, "util": 1.0, "node": n, "processes": []} for i, n in enumerate("ab")]
    engine.service.job_gpus.samples["42"] = [
        (seq, {"t": float(t), "gpus": gpus, "job": "42", "nodes": ["a", "b"]})
        for seq, t in enumerate(range(0, 30, 5), start=1)
    ]
    engine._running_rules(st, RUNNING, Watcher({"gpus_per_node": 1}), None, 30.0)
    [alert] = engine.log.read()
    assert alert["message"] == "all GPUs on a,b idle for 10 s while the run is alive"


@pytest.mark.asyncio
async def test_the_jobs_samples_count_only_while_its_sampler_step_runs() -> None:
    """``sampled``: a stand-in sampler step (a Python that prints a node's sample every 0.1 s)
    gives samples while it runs; ended (the job ended, or reaped), none, though its history
    stays for the charts."""
    import asyncio
    import itertools
    import sys
    import time

    from rdt_tui.agent.slurm_gpus import JobGpus, JobGpusTable

    line = '{"node": "n1", "t": 1.0, "gpus": [{"index": 0, "util": 0.0}]}'
    step = f"import time\nwhile True:\n    print({line!r}, flush=True)\n    time.sleep(0.1)"
    table = JobGpusTable([], 0, 1.0, lambda: None)
    job = JobGpus("7", [sys.executable, "-c", step], 1, lambda: None, itertools.count(1))
    table.jobs["7"] = job
    assert table.sampled("7") == () and table.sampled("8") == ()
    job.ensure()
    try:
        deadline = time.monotonic() + 60
        while not table.sampled("7"):
            assert time.monotonic() < deadline, "the stand-in step sent no sample"
            await asyncio.sleep(0.05)
        assert table.sampled("7")[-1][1]["nodes"] == ["n1"]
    finally:
        job.close()
        assert table.sampled("7") == ()  # at once: the step is being ended
        if job._task is not None:
            await asyncio.wait_for(asyncio.shield(job._task), 15)  # TERM: the step ends
    assert table.sampled("7") == () and job.samples
