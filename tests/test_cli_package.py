"""The command line as one package (rdt_tui/cli/): a profile that is missing or wrong is worded
the same by every subcommand that takes ``--profile``, and an error raised in a subcommand
module reaches ``main`` as the same CliError under ``python -m rdt_tui.cli``."""

from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Every subcommand that loads a profile, with what else it needs to get that far.
PROFILE_COMMANDS = [
    ["group"],
    ["launch", "localhost"],
    ["preflight", "localhost"],
    ["stats", "localhost"],
    ["diff-dataset", "localhost"],
    ["adopt", "localhost", "--pid", "1"],
]


def rdt(state_dir: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, RDT_TUI_STATE_DIR=state_dir),
        cwd=REPO,
    )


def _said(out: subprocess.CompletedProcess[str]) -> list[str]:
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    return out.stderr.strip().splitlines()


def test_a_missing_profile_is_worded_the_same_by_every_subcommand(state_dir: str) -> None:
    said = {
        " ".join(cmd): _said(rdt(state_dir, *cmd, "--profile", "no-such-profile-here"))
        for cmd in PROFILE_COMMANDS
    }
    first = said["group"]
    assert first[0].startswith("rdt-tui: error: ") and "no-such-profile-here" in first[0]
    assert first[-1] == "hint: the profile keys are in docs/profiles.md"
    assert {cmd: lines for cmd, lines in said.items() if lines != first} == {}


def test_a_wrong_profile_is_worded_the_same_by_every_subcommand(
    state_dir: str, workdir: str
) -> None:
    path = os.path.join(workdir, "broken.toml")
    with open(path, "w") as f:
        f.write('command = "python train.py"\nno_such_key = 1\n')
    said = {
        " ".join(cmd): _said(rdt(state_dir, *cmd, "--profile", path)) for cmd in PROFILE_COMMANDS
    }
    first = said["group"]
    assert path in first[0] and first[-1] == "hint: the profile keys are in docs/profiles.md"
    assert {cmd: lines for cmd, lines in said.items() if lines != first} == {}
