"""Preflight subcommands of ``rdt-tui``: ``preflight``, ``stats``, ``manifest`` and
``diff-dataset``. The rules and the orchestration live in ``core.preflight`` and
``client.preflight``; this module parses arguments and prints."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Mapping
from typing import Any

from ..client import AgentClient
from ..core.preflight import FAIL, summary
from ..core.units import human_size
from .common import AddCommand, CliError, load_profile, make_client

MARKS = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def print_checks(checks: list[dict[str, Any]]) -> None:
    for c in checks:
        print(f"[{MARKS[c['status']]}] {c['title']:30} {c['detail']}")
        if c["status"] in ("warn", "fail") and c.get("hint"):
            print(f"{'':38}hint: {c['hint']}")
        if c.get("fix") and c["status"] != "pass":
            print(
                f"{'':38}fix:  rdt-tui preflight HOST --profile P --fix {c['id']}"
                f"  ({c['fix']['label']})"
            )
    counts = summary(checks)
    print(", ".join(f"{n} {k}" for k, n in counts.items() if n))


async def cmd_preflight(c: AgentClient, a: argparse.Namespace) -> int:
    from ..client.preflight import apply_fix, run_checks

    profile = load_profile(a.profile)
    checks = await run_checks(c, profile)
    fixed = None
    if a.fix:
        target = next((x for x in checks if x["id"] == a.fix), None)
        if target is None or not target.get("fix"):
            known = ", ".join(x["id"] for x in checks if x.get("fix")) or "none"
            raise CliError(f"no fix for {a.fix!r}", f"checks with a fix now: {known}")
        fixed = await apply_fix(c, profile, target)
        checks = await run_checks(c, profile)
    if a.json:
        print(json.dumps({"checks": checks, "fixed": fixed, "summary": summary(checks)}, indent=2))
    else:
        if fixed is not None:
            print(f"fixed {a.fix}: {fixed.get('done') or _stats_line(fixed)}")
        print_checks(checks)
    return 1 if any(x["status"] == FAIL for x in checks) else 0


def _stats_line(result: Mapping[str, Any]) -> str:
    where = f"wrote {result['path']}" if result.get("written") else "nothing written"
    backup = f" (backup {result['backup']})" if result.get("backup") else ""
    return where + backup


async def cmd_stats(c: AgentClient, a: argparse.Namespace) -> int:
    if not a.timeout > 0:
        raise CliError(f"--timeout {a.timeout}: a number of seconds above 0 is expected")
    profile = load_profile(a.profile)
    launch = profile.launch_args()
    args = {
        "params": profile.preflight_params(),
        "cwd": launch.get("cwd"),
        "env": launch.get("env") or {},
        "method": a.method,
        "write": not a.dry_run,
        "timeout": a.timeout,
    }
    try:
        # The agent gives up at the timeout (the job and the wait for the file's lock); the
        # margin is for the answer to come back.
        result = await c.stats(args, timeout=a.timeout + 30)
    except asyncio.TimeoutError:
        raise CliError(
            f"no answer from the agent on {a.host} within {a.timeout + 30:.0f} s",
            "check the host (rdt-tui runs HOST), or give the statistics more time with --timeout",
        ) from None
    if a.json:
        print(json.dumps(result, indent=2))
        return 1 if result["status"] == FAIL else 0
    comp = result["computed"]
    if result["method"] == "script":
        print(
            f"{comp['script']} ({comp['seconds']} s) -> entry {profile.preflight['dataset_name']!r}"
        )
    else:
        print(
            f"{comp['files']} files, {comp['episodes']} episodes, {comp['rows']} rows, "
            f"{comp['dims']} dims -> entry {result['entry']['dataset_name']!r} "
            f"({result['method']} std)"
        )
    for line in result["changes"]:
        print("  " + line)
    for line in result["problems"]:
        print(f"  {result['status']}: {line}")
    print(_stats_line(result) + (" (dry run)" if a.dry_run else ""))
    return 1 if result["status"] == FAIL else 0


class Meter:
    """Progress of both manifests on stderr (a terminal only)."""

    def __init__(self) -> None:
        self.sides: dict[str, tuple[int, int]] = {}
        self.last = 0.0
        self.live = sys.stderr.isatty()

    def __call__(self, side: str, done: int, total: int) -> None:
        self.sides[side] = (done, total)
        if self.live and time.monotonic() - self.last > 0.2:
            self.last = time.monotonic()
            parts = [
                f"{s}: {100 * d / t if t else 100:5.1f}% of {human_size(t)}"
                for s, (d, t) in self.sides.items()
            ]
            print("\r  MD5 " + "   ".join(parts), end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.live and self.sides:
            print(file=sys.stderr)


async def cmd_manifest(c: AgentClient, a: argparse.Namespace) -> int:
    from ..client.preflight import manifest

    meter = Meter()
    result = await manifest(c, a.path, a.glob, meter)
    meter.done()
    if a.json:
        print(json.dumps(result, indent=2))
        return 0
    for name, f in result["files"].items():
        print(f"{f.get('md5') or 'ERROR ' + str(f.get('error'))}  {f.get('size', '-'):>12}  {name}")
    print(f"{len(result['files'])} files, {human_size(result['bytes'])}", file=sys.stderr)
    return 0


async def cmd_diff_dataset(c: AgentClient, a: argparse.Namespace) -> int:
    from ..client.preflight import diff_dataset

    profile = load_profile(a.profile)
    local = make_client("localhost")
    await local.connect()
    meter = Meter()
    try:
        diff, check = await diff_dataset(c, local, profile, meter)
    except ValueError as exc:
        raise CliError(str(exc), "add them to the profile's [preflight] table") from None
    finally:
        meter.done()
        await local.close()
    if a.json:
        print(json.dumps({"diff": diff, "check": check}, indent=2))
    else:
        for kind in ("missing", "extra", "different", "unreadable"):
            for name in diff[kind]:
                print(f"{kind:10} {name}")
        print(f"[{MARKS[check['status']]}] {check['detail']}")
    return 1 if check["status"] == FAIL else 0


def add_parsers(add: AddCommand) -> None:
    sp = add("preflight", cmd_preflight, "run the preflight checklist of a profile", run=False)
    sp.add_argument("--profile", required=True, help="profile name or path")
    sp.add_argument("--fix", metavar="CHECK_ID", help="apply that check's fix, then check again")
    sp.epilog = "Exit code 0 when no check fails."
    sp = add(
        "stats", cmd_stats, "compute the dataset statistics on the host and write them", run=False
    )
    sp.add_argument("--profile", required=True, help="profile name or path")
    sp.add_argument(
        "--method",
        choices=("auto", "script", "rdt", "plain"),
        default="auto",
        help="script: run the profile's preflight.stats_command (the project's own script); "
        "rdt: the built-in computation with the std as RDT's script computes it; plain: the "
        "built-in with the population std; auto (default): script when the profile has one, "
        "else rdt",
    )
    sp.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="give up (and write nothing) after this long (default 3600)",
    )
    sp.add_argument(
        "--dry-run", action="store_true", help="show the change without writing the file"
    )
    sp = add("manifest", cmd_manifest, "MD5 manifest of a directory on the host", run=False)
    sp.add_argument("path", metavar="PATH")
    sp.add_argument("--glob", default="*", help="only files matching this (default all)")
    sp = add(
        "diff-dataset",
        cmd_diff_dataset,
        "compare the profile's dataset on the host with the local copy by MD5",
        run=False,
    )
    sp.add_argument("--profile", required=True, help="profile name or path")
