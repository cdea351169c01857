"""``rdt-tui adopt HOST --pid PID``: make a run started by hand (tmux, nohup) a run of ours.
Without ``--pid`` it lists the training processes it sees there. The node side is
``agent/adopt.py``; this module parses arguments and prints."""

from __future__ import annotations

import argparse
from typing import Any

from ..client import AgentClient
from ..protocol.messages import Candidate
from .common import AddCommand, emit_json, load_profile

# What an adopted run takes from a profile: where its metrics and checkpoints are, how to stop.
PROFILE_KEYS = (
    "profile",
    "log_files",
    "event_files",
    "metric_source",
    "metric_format",
    "checkpoint_dir",
    "checkpoint_globs",
    "stop_signal",
    "alerts",
)


def profile_options(name: str) -> dict[str, Any]:
    args = load_profile(name).launch_args()
    return {k: args[k] for k in PROFILE_KEYS if args.get(k)}


def log_word(c: Candidate) -> str:
    return str(c["log"]) if c.get("log") else f"(no log file: stdout is a {c['stdout']})"


def print_candidates(found: list[Candidate], host: str) -> None:
    if not found:
        print(f"no training process of yours on {host} outside rdt-tui's runs")
        return
    for c in found:
        held = f"  (already run {c['run']})" if c.get("run") else ""
        gpu = ", holds a GPU" if c.get("gpu") else ""
        print(f"pid {c['pid']}: {c['processes']} process(es){gpu}{held}")
        print(f"  command  {' '.join(c['argv'])[:200]}")
        print(f"  cwd      {c.get('cwd')}")
        print(f"  log      {log_word(c)}")
    print(f"adopt one with: rdt-tui adopt {host} --pid PID [--log PATH]")


async def cmd_adopt(c: AgentClient, a: argparse.Namespace) -> int:
    if a.pid is None:
        found = await c.candidates()
        if a.json:
            emit_json(found)
        else:
            print_candidates(found, c.host)
        return 0
    options = profile_options(a.profile) if a.profile else {}
    if a.name:
        options["name"] = a.name
    if a.checkpoint_dir:
        options["checkpoint_dir"] = a.checkpoint_dir
    result = await c.adopt(a.pid, a.log, **options)
    if a.json:
        emit_json(dict(result, run=result["id"]))
        return 0
    print(f"adopted {result['id']} (pid {result.get('pid')}, {result['status']})")
    print(f"  log          {result.get('log')}")
    print(f"  processes    {', '.join(str(p) for p in result.get('pids') or [])}")
    print(f"  watch it:    rdt-tui watch {c.host} {result['id']}")
    print("  its exit code cannot be known: it ends as `ended`, exit code unknown")
    return 0


def add_parsers(add: AddCommand) -> None:
    sp = add(
        "adopt",
        cmd_adopt,
        "make a run started by hand (tmux, nohup) a run of rdt-tui; without --pid, list "
        "the training processes seen on the host",
        run=False,
    )
    sp.add_argument("--pid", type=int, help="the process to adopt (its launcher, with its tree)")
    sp.add_argument(
        "--log",
        metavar="PATH",
        help="the log file it writes, absolute or relative to ITS working directory "
        "(default: the file its stdout points to; needed when that is a terminal)",
    )
    sp.add_argument("--profile", help="take metrics, checkpoints and stop signal from it")
    sp.add_argument("--name", help="a name for the run (used in its id)")
    sp.add_argument(
        "--checkpoint-dir",
        help="where it writes checkpoints (default: the profile's, else guessed from "
        "--output_dir or Hydra's run dir on its command line)",
    )
    sp.epilog = (
        "Its log is only read, from the first byte. Stop reaches its process tree as "
        "recorded and refreshed; its exit code cannot be known."
    )
