"""`checkpoint_dir` as the node sees it: a shipped-style profile (`cwd = "~/..."`) lists its
checkpoints, `~` being the agent's home (not the console's), and `launch --cwd` moves a
relative checkpoint_dir with the working directory. Real CLI, real local agent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The job writes one checkpoint under its cwd, as RDT's `checkpoint-N` would be.
JOB = (
    "import os; os.makedirs('out/ckpts/checkpoint-5', exist_ok=True); "
    "open('out/ckpts/checkpoint-5/model.bin', 'w').write('x' * 100)"
)


def cli(state_dir: str, home: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RDT_TUI_STATE_DIR=state_dir, HOME=home, PYTHONPATH=REPO)
    return subprocess.run(
        [PY, "-m", "rdt_tui.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def listed(state_dir: str, home: str, run: str) -> dict[str, Any]:
    """The run's checkpoint listing, once the job has had time to write its checkpoint."""
    deadline = time.monotonic() + 60
    while True:
        done = cli(state_dir, home, "checkpoints", "localhost", run, "--json")
        assert done.returncode == 0, done.stderr
        listing: dict[str, Any] = json.loads(done.stdout)
        if listing["checkpoints"] or time.monotonic() > deadline:
            return listing
        time.sleep(0.3)


def test_tilde_profile_lists_checkpoints_and_follows_cwd(state_dir: str, workdir: str) -> None:
    home = os.path.join(workdir, "nodehome")
    os.makedirs(os.path.join(home, "proj"))
    profile = os.path.join(workdir, "p.toml")
    with open(profile, "w") as fh:
        fh.write(
            f"command = [{json.dumps(PY)}, '-c', {json.dumps(JOB)}]\n"
            'cwd = "~/proj"\ncheckpoint_dir = "out/ckpts"\ncheckpoint_globs = ["checkpoint-*"]\n'
        )
    first = cli(state_dir, home, "launch", "localhost", "--profile", profile, "--json")
    assert first.returncode == 0, first.stderr
    listing = listed(state_dir, home, json.loads(first.stdout)["id"])
    want = os.path.join(home, "proj", "out", "ckpts")
    assert listing["directory"] == want
    assert [c["path"] for c in listing["checkpoints"]] == [os.path.join(want, "checkpoint-5")]
    assert listing["checkpoints"][0]["step"] == 5

    # --cwd elsewhere: the relative checkpoint_dir goes with it, not under the profile's cwd.
    other = os.path.join(workdir, "other")
    os.makedirs(other)
    second = cli(
        state_dir, home, "launch", "localhost", "--profile", profile, "--cwd", other, "--json"
    )
    assert second.returncode == 0, second.stderr
    listing = listed(state_dir, home, json.loads(second.stdout)["id"])
    moved = os.path.join(other, "out", "ckpts")
    assert listing["directory"] == moved
    assert [c["path"] for c in listing["checkpoints"]] == [os.path.join(moved, "checkpoint-5")]
