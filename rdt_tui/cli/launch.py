"""``rdt-tui launch HOST [--profile P] [options] -- CMD ARGS...``: a command or a profile as a
supervised run on the host."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..client import AgentClient
from .common import LOCAL_HOSTS, AddCommand, CliError, emit_json, load_profile, set_values
from .words import status_word


async def cmd_launch(c: AgentClient, a: argparse.Namespace) -> int:
    from ..config.profiles import ProfileError

    args: dict[str, Any] = {}
    if a.profile:
        profile = load_profile(a.profile)
        values = set_values(a.set)
        if a.resume:
            values["resume"] = a.resume
        try:
            args.update(profile.launch_args(values))
        except ProfileError as exc:
            raise CliError(str(exc), "add resume_args to the profile") from None
    elif a.set or a.resume:
        raise CliError("--set and --resume work on a profile", "give a --profile too")
    command = list(a.command)
    if command:
        args["argv"] = command
    if a.cwd:
        args["cwd"] = os.path.abspath(a.cwd) if c.host in LOCAL_HOSTS else a.cwd
    if a.name:
        args["name"] = a.name
    if a.gpus is not None:
        args["gpus"] = [g for g in a.gpus.split(",") if g]
    env = dict(args.get("env") or {})
    for item in a.env or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--env {item!r} is not NAME=VALUE")
        env[key] = value
    args["env"] = env
    if a.log_file:
        args["log_files"] = a.log_file
    if a.event_files:
        args["event_files"] = a.event_files
    if a.metric_source:
        args["metric_source"] = a.metric_source
    if a.checkpoint_dir:
        args["checkpoint_dir"] = a.checkpoint_dir
    args["force"] = a.force
    if not args.get("argv"):
        raise CliError(
            "no command to launch",
            "give one after `--` (rdt-tui launch localhost -- python train.py) or a --profile",
        )
    result = await c.launch_args(args)
    if a.json:
        emit_json(dict(result, run=result["id"]))
    else:
        print(f"launched {result['id']} ({status_word(result)})")
    for warning in result.get("warnings") or []:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def add_parsers(add: AddCommand) -> None:
    sp = add("launch", cmd_launch, "launch a command or a profile as a supervised run", run=False)
    sp.add_argument("--profile", help="profile name (configs/runs/NAME.toml) or path")
    sp.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="a launch-form value for the profile's placeholders, e.g. processes=4",
    )
    sp.add_argument(
        "--resume",
        metavar="CHECKPOINT",
        help="continue from this checkpoint (on the host: checked before launch) with the "
        "profile's resume_args",
    )
    sp.add_argument("--cwd", help="working directory on the host")
    sp.add_argument("--name", help="a name for the run (used in its id)")
    sp.add_argument("--gpus", help="GPU indices the run uses, e.g. 0,1")
    sp.add_argument("--env", action="append", metavar="NAME=VALUE", help="environment variable")
    sp.add_argument(
        "--log-file",
        action="append",
        metavar="GLOB",
        help="another log to parse for metrics (relative to --cwd)",
    )
    sp.add_argument(
        "--event-files",
        action="append",
        metavar="GLOB",
        help="TensorBoard event files to read metrics from, e.g. 'logs/**/events.out.tfevents.*'",
    )
    sp.add_argument(
        "--metric-source",
        choices=("events", "log"),
        help="which source feeds a name both give (default: events)",
    )
    sp.add_argument("--checkpoint-dir", help="where the run writes checkpoints (default: cwd)")
    sp.add_argument("--force", action="store_true", help="launch even onto GPUs a live run uses")
    sp.set_defaults(command=[])
    sp.epilog = "The command comes last, after `--`: rdt-tui launch HOST [options] -- CMD ARGS..."
