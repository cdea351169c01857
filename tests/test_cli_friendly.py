"""The CLI as a new user meets it: `runs` oldest first with safe commands, `logs --tail 0` and
`--all`, add-host's hints, an unknown profile naming the available ones, an example in every
subcommand's --help. All through the real `rdt-tui` and the real agent."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from rdt_tui.cli import build_parser

from .test_cli import REPO, rdt, rdt_json


def launch(state_dir: str, workdir: str, name: str, code: str, *extra: str) -> str:
    out = rdt_json(
        state_dir, "launch", "localhost", "--cwd", workdir, "--name", name, "--",
        sys.executable, "-c", code, *extra,
    )  # fmt: skip
    return str(out["run"])


def wait_ended(state_dir: str, run: str) -> None:
    deadline = time.monotonic() + 30
    while rdt_json(state_dir, "status", "localhost", run)["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_runs_lists_oldest_first_and_a_newline_in_a_command_stays_on_its_line(
    state_dir: str, workdir: str
) -> None:
    first = launch(state_dir, workdir, "aaa-first", "pass")
    time.sleep(1.1)  # started_at is in seconds in the listing's order
    second = launch(state_dir, workdir, "zzz-second", "import sys", "two\nlines\x1b[31m")
    out = rdt(state_dir, "runs", "localhost")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3, lines  # the header and one line per run
    assert lines[1].startswith(first) and lines[2].startswith(second)
    assert "\x1b" not in out.stdout and "two\\nlines" in lines[2]


def test_logs_tail_0_prints_nothing_and_all_prints_the_whole_log(
    state_dir: str, workdir: str
) -> None:
    run = launch(state_dir, workdir, "chatty", "for i in range(300): print(f'line {i}')")
    wait_ended(state_dir, run)
    none = rdt(state_dir, "logs", "localhost", run, "--tail", "0")
    assert none.returncode == 0 and none.stdout == "", none.stdout[:200]
    tail = rdt(state_dir, "logs", "localhost", run)
    assert tail.stdout.splitlines()[0] == "line 250"  # the default: the last 50
    whole = rdt(state_dir, "logs", "localhost", run, "--all")
    assert whole.stdout.splitlines() == [f"line {i}" for i in range(300)]


def cli(workdir: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RDT_TUI_CONFIG_DIR=os.path.join(workdir, "cfg"))
    return subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", *args],
        capture_output=True, text=True, timeout=60, env=env, cwd=REPO,
    )  # fmt: skip


def test_add_host_hints_replace_only_for_a_name_already_there(workdir: str) -> None:
    ok = cli(workdir, "add-host", "gpu-a", "--hostname", "node.example.org")
    assert ok.returncode == 0, ok.stderr
    again = cli(workdir, "add-host", "gpu-a", "--hostname", "other.example.org")
    assert again.returncode != 0 and "--replace" in again.stderr
    bad_name = cli(workdir, "add-host", "gpu b", "--hostname", "node.example.org")
    assert bad_name.returncode != 0 and "rdt-tui: error:" in bad_name.stderr
    assert "--replace" not in bad_name.stderr and "hint:" in bad_name.stderr


def test_an_unknown_profile_lists_the_available_ones_and_each_folder_once(
    state_dir: str,
) -> None:
    out = rdt(state_dir, "preflight", "localhost", "--profile", "no-such-profile")
    assert out.returncode != 0
    assert "available:" in out.stderr and "demo" in out.stderr and "rdt-finetune" in out.stderr
    where = out.stderr.split("looked in ", 1)[1].split(")", 1)[0].split(", ")
    assert len(where) == len(set(where)), where


def test_every_subcommand_help_has_an_example() -> None:
    parser = build_parser()
    sub: Any = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    missing = [n for n, p in sub.choices.items() if "example: rdt-tui" not in p.format_help()]
    assert missing == []
