"""A resume from a checkpoint that is not on the node is refused at launch, naming the path,
instead of launching and failing once the trainer gets to it (about 10 s later for RDT's).
Checked by the node's agent, where the path lives: real CLI, real local agent."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rdt_tui.agent.runspec import validate_launch
from rdt_tui.protocol.errors import AgentError

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(state_dir: str, home: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RDT_TUI_STATE_DIR=state_dir, HOME=home, PYTHONPATH=REPO)
    return subprocess.run(
        [PY, "-m", "rdt_tui.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def profile_in(workdir: str) -> str:
    """An RDT-style profile: `--resume_from_checkpoint={resume}`, checkpoints under out/."""
    path = os.path.join(workdir, "p.toml")
    with open(path, "w") as fh:
        fh.write(
            f"command = [{json.dumps(PY)}, '-c', 'pass']\ncwd = {json.dumps(workdir)}\n"
            'checkpoint_dir = "out"\nresume_args = ["--resume_from_checkpoint={resume}"]\n'
        )
    return path


def test_a_missing_checkpoint_is_refused_before_anything_runs(state_dir: str, workdir: str) -> None:
    home = os.path.join(workdir, "home")
    os.makedirs(home)
    profile = profile_in(workdir)
    done = cli(
        state_dir, home, "launch", "localhost", "--profile", profile, "--resume", "/nonexistent"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "checkpoint /nonexistent does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    runs = cli(state_dir, home, "runs", "localhost", "--json")
    assert runs.returncode == 0, runs.stderr
    assert json.loads(runs.stdout) == []  # nothing was launched

    # Found where the trainer finds it: RDT's name under the checkpoint directory, a path
    # under the cwd, `~` as this node's home, and RDT's word for the newest one.
    os.makedirs(os.path.join(workdir, "out", "checkpoint-5"))
    os.makedirs(os.path.join(home, "ck", "checkpoint-7"))
    for given in ("checkpoint-5", "out/checkpoint-5", "~/ck/checkpoint-7", "latest"):
        ok = cli(state_dir, home, "launch", "localhost", "--profile", profile, "--resume", given)
        assert ok.returncode == 0, (given, ok.stderr)


def test_what_was_looked_for_is_named(workdir: str) -> None:
    args = {
        "argv": [PY, "-c", "pass"],
        "cwd": workdir,
        "checkpoint_dir": "out",
        "resume": "runs/checkpoint-9",
    }
    with pytest.raises(AgentError) as refused:
        validate_launch(args)
    assert refused.value.message == (
        f"checkpoint runs/checkpoint-9 does not exist (looked for {workdir}/runs/checkpoint-9, "
        f"{workdir}/out/runs/checkpoint-9, {workdir}/out/checkpoint-9)"
    )
    assert "rdt-tui checkpoints" in refused.value.hint
    # No resume asked, nothing checked.
    assert "warnings" not in validate_launch(dict(args, resume=None))


def test_a_slurm_launch_warns_instead(workdir: str) -> None:
    """The login node may not see a compute node's disk: a warning, as for a program."""
    spec = validate_launch(
        {"argv": [PY, "-c", "pass"], "cwd": workdir, "resume": "/nonexistent", "scheduler": "slurm"}
    )
    assert spec["warnings"] == [
        "checkpoint /nonexistent does not exist on the login node; the job looks on its node"
    ]
