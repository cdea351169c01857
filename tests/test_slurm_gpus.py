"""GPU telemetry of a Slurm job's nodes: our sampler started inside the allocation (``srun
--overlap --jobid=J``), one task per node, streamed to the run's subscription labelled by node.
The lab has no GPU: the agent's SIMULATED backend (``--simulate-gpus``) stands in on each node,
so n1 and n2 each report their own two GPUs. A step Slurm refuses is said, not hidden."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from rdt_tui.agent.slurm_gpus import JobGpusTable, merge, srun_argv
from rdt_tui.protocol.messages import GpuSample

from .conftest import Agent
from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture
from .test_slurm_runs import slurm_launch, wait_for


@pytest.mark.asyncio
async def test_a_two_node_jobs_gpus_stream_labelled_by_node(
    slurm: SlurmLab,  # noqa: F811
    agent: Agent,
    workdir: str,
) -> None:
    c = await agent.client(simulate_gpus=2)
    argv = [sys.executable, "-c", "import time; time.sleep(120)"]
    run = await c.launch_args(slurm_launch(argv, workdir, nodes=2))
    await wait_for(c, run["id"], {"running"})
    sub = await c.subscribe(run["id"], gpu=True)
    sample: GpuSample = {}
    deadline = time.monotonic() + 60
    async for ev in sub:
        assert time.monotonic() < deadline, f"no sample of both nodes; last: {sample}"
        if ev["event"] != "gpu":
            continue
        sample = ev["data"]
        if sample.get("nodes") == ["n1", "n2"]:
            break
    await sub.close()
    assert sample["job"] == run["slurm_job_id"] and sample["simulated"]
    labels = [(g["node"], g["node_index"], g["index"]) for g in sample["gpus"]]
    assert labels == [("n1", 0, 0), ("n1", 1, 1), ("n2", 0, 2), ("n2", 1, 3)]
    assert all(g["name"] == "SIMULATED GPU" for g in sample["gpus"])
    # The sampler is a step of the job beside the job's own, not a job of its own.
    steps = slurm.run("squeue", "-h", "-s", "-j", str(run["slurm_job_id"]), "-o", "%j")
    assert f"rdt-gpus-{run['slurm_job_id']}" in steps.split()
    assert (await c.stop(run["id"], grace=1))["status"] == "stopped"
    # The login node's own (simulated) GPUs were never passed off as the job's.
    assert all(g.get("node") for g in sample["gpus"])


@pytest.mark.asyncio
async def test_a_step_slurm_refuses_is_said_in_the_sample(
    slurm: SlurmLab,  # noqa: F811
    workdir: str,
) -> None:
    """srun --overlap into a job slurmctld does not have: the real srun's refusal, in words."""
    woken: list[float] = []
    agent_cmd = [sys.executable, "-m", "rdt_tui.agent"]
    table = JobGpusTable(agent_cmd, 1, 1.0, lambda: woken.append(time.monotonic()))
    summary = {"slurm_job_id": "999999", "status": "running"}
    try:
        deadline = time.monotonic() + 30
        while True:
            samples = list(table.feed(summary, dict))
            if samples:
                break
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        reason = samples[-1][1]["reason"]
        assert reason.startswith("GPUs of Slurm job 999999 not shown: Slurm refused the sampler")
        assert "Invalid job id" in reason, reason
        assert samples[-1][1]["gpus"] == [] and woken
        await asyncio.sleep(0.2)
        assert len(table.feed(summary, dict)) == 1  # not asked again at once
    finally:
        table.close()


def test_merge_numbers_gpus_in_node_order_and_says_why_a_node_has_none() -> None:
    gpu = {"index": 0, "name": "G", "util": 5}
    latest = {
        "n2": {"node": "n2", "t": 2.0, "gpus": [gpu], "simulated": False, "host": {"cpus": 8}},
        "n1": {"node": "n1", "t": 1.0, "gpus": [], "reason": "no NVIDIA driver found"},
    }
    merged = merge(latest, "7")
    assert merged["nodes"] == ["n1", "n2"] and merged["t"] == 2.0
    assert merged["gpus"] == [dict(gpu, index=0, node="n2", node_index=0)]
    assert merged["reason"] == "n1: no NVIDIA driver found"


def test_the_sampler_step_asks_for_the_jobs_gpus_on_every_node() -> None:
    agent = ["/usr/bin/python3", "/home/u/.rdt/agent.pyz"]
    argv = srun_argv("77", {"nodes": 2, "gpus_per_node": 4}, agent, 1.0, 0)
    assert argv == [
        *("srun", "--overlap", "--jobid=77", "--nodes=2", "--ntasks=2", "--ntasks-per-node=1"),
        *("--gpus-per-node=4", "--quiet", "--job-name=rdt-gpus-77", *agent, "slurm-gpus"),
        *("--interval", "1", "--simulate", "0"),
    ]
    assert "--gres=gpu:a100:2" in srun_argv("77", {"gres": "gpu:a100:2"}, agent, 1.0, 0)
    assert not [a for a in srun_argv("77", {}, agent, 1.0, 0) if a.startswith("--gpus")]


@pytest.mark.asyncio
async def test_a_step_no_one_asks_for_is_ended_and_forgotten(
    slurm: SlurmLab,  # noqa: F811
    workdir: str,
) -> None:
    """The sampler must not run for the days a job runs while no console looks."""
    from rdt_tui.agent import slurm_gpus

    out = slurm.run("sbatch", "--parsable", "--nodes=2", "-o", "/dev/null", "--wrap", "sleep 120")
    job_id = out.strip().split(";")[0]
    table = JobGpusTable([sys.executable, "-m", "rdt_tui.agent"], 1, 1.0, lambda: None)
    summary = {"slurm_job_id": job_id, "status": "running"}
    try:
        deadline = time.monotonic() + 60
        while True:  # the job starts, then the step: a sample of both nodes
            samples = list(table.feed(summary, lambda: {"nodes": 2}))
            if samples and samples[-1][1].get("nodes") == ["n1", "n2"]:
                break
            assert time.monotonic() < deadline, samples[-1:]
            await asyncio.sleep(0.2)
        steps = slurm.run("squeue", "-h", "-s", "-j", job_id, "-o", "%j").split()
        assert f"rdt-gpus-{job_id}" in steps
        table.reap()
        assert job_id in table.jobs  # asked for just now
        table.jobs[job_id].fed_at -= slurm_gpus.IDLE_S + 1
        table.reap()
        assert table.jobs == {}
        deadline = time.monotonic() + 60
        while f"rdt-gpus-{job_id}" in slurm.run("squeue", "-h", "-s", "-j", job_id, "-o", "%j"):
            assert time.monotonic() < deadline, "the sampler step outlived its reaping"
            await asyncio.sleep(0.2)
        assert slurm.run("squeue", "-h", "-j", job_id, "-o", "%T").strip() == "RUNNING"
    finally:
        table.close()
        slurm.run("scancel", job_id, check=False)


@pytest.mark.asyncio
async def test_a_step_slurm_holds_back_is_said_while_it_waits(
    slurm: SlurmLab,  # noqa: F811
    workdir: str,
) -> None:
    """A suspended job: Slurm takes no new step and srun waits without a word."""
    out = slurm.run("sbatch", "--parsable", "-o", "/dev/null", "--wrap", "sleep 120")
    job_id = out.strip().split(";")[0]
    table = JobGpusTable([sys.executable, "-m", "rdt_tui.agent"], 1, 1.0, lambda: None)
    try:
        deadline = time.monotonic() + 30
        while slurm.run("squeue", "-h", "-j", job_id, "-o", "%T").strip() != "RUNNING":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        slurm.run("scontrol", "suspend", job_id)
        summary = {"slurm_job_id": job_id, "status": "running"}
        deadline = time.monotonic() + 30
        while not table.feed(summary, dict):
            assert time.monotonic() < deadline, "nothing said while srun waits"
            await asyncio.sleep(0.2)
        sample = table.feed(summary, dict)[-1][1]
        assert sample["gpus"] == [] and sample["job"] == job_id
        assert "waiting for Slurm to start the sampler (srun --overlap)" in sample["reason"]
    finally:
        table.close()
        slurm.run("scontrol", "resume", job_id, check=False)
        slurm.run("scancel", job_id, check=False)
