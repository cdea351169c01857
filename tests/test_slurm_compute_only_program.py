"""A program that exists only on the compute nodes (a module, a node-local path) is not refused
by the login node under Slurm: the launch answers with a warning, written in the run's log too,
and the job runs it on its node. A local run keeps the refusal."""

from __future__ import annotations

import os
import stat

import pytest

from rdt_tui.client import AgentCallError

from .conftest import Agent
from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture
from .test_slurm_runs import read, slurm_launch, wait_for


@pytest.mark.asyncio
async def test_a_program_missing_on_the_login_node_is_a_warning_under_slurm(
    slurm: SlurmLab,  # noqa: F811
    agent: Agent,
    workdir: str,
) -> None:
    # The program appears where the job runs only after the launch: as a compute node's module
    # does. The job waits in a DOWN partition meanwhile.
    program = os.path.join(workdir, "node-only", "train")
    c = await agent.client()
    slurm.run("scontrol", "update", "PartitionName=held", "State=DOWN")
    try:
        run = await c.launch_args(
            slurm_launch([program, "--epochs", "1"], workdir, partition="held")
        )
        assert run["warnings"] == [
            f"{program} is not an executable file on the login node; the job looks on its node"
        ]
        await wait_for(c, run["id"], {"pending"})
        os.makedirs(os.path.dirname(program))
        with open(program, "w") as fh:
            fh.write('#!/bin/sh\necho "trained on $SLURMD_NODENAME with $*"\n')
        os.chmod(program, os.stat(program).st_mode | stat.S_IXUSR)
    finally:
        slurm.run("scontrol", "update", "PartitionName=held", "State=UP")
    final = await wait_for(c, run["id"], {"exited", "failed", "lost"}, timeout=90)
    assert final["status"] == "exited" and final["exit_code"] == 0, final
    log = read(os.path.join(agent.state_dir, "runs", run["id"], "output.log"))
    assert log.startswith(f"[rdt-tui] warning: {program} is not an executable file")
    assert "trained on n" in log and "with --epochs 1" in log


@pytest.mark.asyncio
async def test_a_program_missing_on_every_node_says_so_in_the_log(
    slurm: SlurmLab,  # noqa: F811
    agent: Agent,
    workdir: str,
) -> None:
    c = await agent.client()
    run = await c.launch_args(slurm_launch(["rdt-no-such-program"], workdir))
    assert "command not found: rdt-no-such-program on the login node" in run["warnings"][0]
    final = await wait_for(c, run["id"], {"exited", "failed", "lost"}, timeout=90)
    assert final["exit_code"] == 127, final
    log = read(os.path.join(agent.state_dir, "runs", run["id"], "output.log"))
    assert "[rdt-tui] cannot start rdt-no-such-program: No such file or directory" in log
    assert "Traceback" not in log


@pytest.mark.asyncio
async def test_a_local_run_of_a_missing_program_is_still_refused(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    with pytest.raises(AgentCallError) as err:
        await c.launch_args({"argv": [os.path.join(workdir, "nope")], "cwd": workdir})
    assert "is not an executable file" in str(err.value)
    assert await c.runs() == []


def test_a_node_task_whose_program_is_missing_says_so_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A multi-node task execs the program itself (slurm-task): not found there is one line."""
    from rdt_tui.agent.slurm_task import task_main

    for name in ("SLURM_JOB_NODELIST", "SLURM_NODELIST", "SLURM_RESTART_COUNT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURMD_NODENAME", "n2")
    assert task_main(["--", "rdt-no-such-program", "--x"]) == 127
    out = capsys.readouterr().out
    assert out.startswith("[rdt-tui] cannot start 'rdt-no-such-program' on n2: No such file")
