"""The run subcommands of ``rdt-tui``: ``runs``, ``status``, ``logs``, ``stop``,
``checkpoints`` and ``gpus``; each asks the host's agent through the client and prints."""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys

from ..client import AgentClient
from ..core.units import human_size
from .common import AddCommand, emit_json
from .slurm import slurm_lines
from .words import age, status_word


def command_text(argv: list[str]) -> str:
    """A run's argv as one line a shell would take back (quoted as needed): a newline or a
    control character in an argument is escaped, so it never breaks a listing."""
    cmd = " ".join(shlex.quote(arg) for arg in argv)
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in cmd)


async def cmd_runs(c: AgentClient, a: argparse.Namespace) -> int:
    runs = await c.runs()
    if a.json:
        emit_json(runs)
        return 0
    if not runs:
        print("no runs on", c.host)
        return 0
    print(f"{'RUN':40} {'STATUS':18} {'STARTED':10} COMMAND")
    # Like ps: on a terminal the command is cut at its right edge; into a pipe or a file
    # (grep, a script) it is whole, so what is printed never depends on a path's length.
    room = shutil.get_terminal_size().columns - 72 if sys.stdout.isatty() else None
    # Oldest first, newest last (like `ls -tr`): the run just launched is by the prompt.
    for r in sorted(runs, key=lambda r: (r.get("started_at") or 0, r["id"])):
        cmd = command_text(r.get("argv") or [])
        if room is not None and len(cmd) > max(room, 20):
            cmd = cmd[: max(room, 20) - 1] + "…"
        print(f"{r['id']:40} {status_word(r):18} {age(r.get('started_at')):10} {cmd}")
    return 0


async def cmd_status(c: AgentClient, a: argparse.Namespace) -> int:
    s = await c.status(a.run)
    if a.json:
        emit_json(s)
        return 0
    print(f"run      {s['id']}\nstatus   {status_word(s)}\nstarted  {age(s.get('started_at'))}")
    print(f"command  {command_text(s.get('argv') or [])}\ncwd      {s.get('cwd')}")
    if s.get("kind") == "adopted":  # started by hand: its own log, read where it is
        print(f"log      {s.get('log')} (adopted: exit code unknown once it ends)")
    if s.get("slurm_job_id"):
        print("\n".join(slurm_lines(s)))
    if s.get("held_by"):  # what finds every process of the run when it is stopped
        print(f"held by  {', '.join(s['held_by'])}")
    if s.get("error"):
        print(f"problem  {s['error']}")
    return 0


async def cmd_logs(c: AgentClient, a: argparse.Namespace) -> int:
    if a.all:  # the whole log, paged from the agent by offset
        end = 0
        while True:
            chunk = await c.log(a.run, since=end)
            sys.stdout.write(chunk["text"])
            if chunk["end"] <= end:
                break
            end = chunk["end"]
        sys.stdout.flush()
    else:
        # --tail 0 prints nothing (a follow then starts at the end of the log)
        tail = await c.tail(a.run, max(1, a.tail))
        for line in tail["lines"] if a.tail > 0 else []:
            print(line)
        end = tail["end"]
    if not a.follow:
        return 0
    sub = await c.subscribe(
        a.run, {"log": end, "metric": 1 << 62, "checkpoint": 1 << 30}, gpu=False
    )
    async for ev in sub:
        if ev["event"] == "log":
            sys.stdout.write(ev["data"]["text"].replace("\r\n", "\n").replace("\r", "\n"))
            sys.stdout.flush()
        elif ev["event"] == "status" and ev["data"].get("complete"):
            break
    return 0


async def cmd_stop(c: AgentClient, a: argparse.Namespace) -> int:
    s = await c.stop(a.run, a.grace, a.signal)
    if a.json:
        emit_json(s)
    elif s.get("already_ended"):
        print(f"{s['id']} had already ended: {status_word(s)}")
    else:
        print(f"{s['id']} {status_word(s)}")
    if s.get("stop_incomplete"):
        print(f"{s['id']}: {s.get('error')}", file=sys.stderr)
        return 1  # processes of the run are left (stuck in the kernel): not a clean stop
    return 0


async def cmd_checkpoints(c: AgentClient, a: argparse.Namespace) -> int:
    listing = await c.checkpoints(a.run)
    if a.json:
        emit_json(listing)
        return 0
    disk = listing["disk"]
    print(
        f"{listing['directory']}  (free {human_size(disk.get('free'))} "
        f"of {human_size(disk.get('total'))})"
    )
    if not listing["checkpoints"]:
        print("no checkpoints yet")
    for ck in listing["checkpoints"]:
        step = ck["step"] if ck["step"] is not None else "-"
        print(
            f"{step!s:>8}  {human_size(ck['size']):>10}  {age(ck['mtime']):>10}  {ck['name']}"
            f"  {' '.join(ck['notable'])}"
        )
    return 0


async def cmd_gpus(c: AgentClient, a: argparse.Namespace) -> int:
    sample = (await c.gpus())["samples"][-1]
    if a.json:
        emit_json(sample)
        return 0
    label = "  [SIMULATED]" if sample["simulated"] else ""
    host = sample["host"]
    print(
        f"{c.host}: CPU {host.get('cpu_percent') or 0:.0f}% of {host.get('cpus')} cores, "
        f"memory {human_size(host.get('mem_used'))} / {human_size(host.get('mem_total'))}{label}"
    )
    if not sample["gpus"]:
        print(f"no GPUs: {sample['reason']}")
    for g in sample["gpus"]:
        name = ("SIMULATED " if sample["simulated"] and "SIMULATED" not in g["name"] else "") + str(
            g["name"]
        )
        print(
            f"  [{g['index']}] {name:24} util {g['util'] if g['util'] is not None else '-':>3}%"
            f"  mem {human_size(g['mem_used'])} / {human_size(g['mem_total'])}"
            f"  {g['temp'] if g['temp'] is not None else '-'}C"
            f"  {g['power'] if g['power'] is not None else '-'}W"
            f"  procs {len(g['processes'])}"
        )
    return 0


def add_runs(add: AddCommand) -> None:
    add("runs", cmd_runs, "list the runs on a host", run=False)


def add_status(add: AddCommand) -> None:
    add("status", cmd_status, "show one run's status")


def add_logs(add: AddCommand) -> None:
    sp = add("logs", cmd_logs, "print a run's log", json_=False)
    sp.add_argument(
        "--tail", type=int, default=50, metavar="N", help="last N lines (default 50; 0: none)"
    )
    sp.add_argument("--all", action="store_true", help="the whole log, from its first byte")
    sp.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends")


def add_stop(add: AddCommand) -> None:
    sp = add("stop", cmd_stop, "stop a run: SIGINT, grace, SIGTERM, then SIGKILL")
    sp.add_argument(
        "--grace",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="time between the first signal and SIGTERM (default 30)",
    )
    sp.add_argument("--signal", help="first signal (default the run's, SIGINT)")


def add_checkpoints(add: AddCommand) -> None:
    add("checkpoints", cmd_checkpoints, "list a run's checkpoints and free disk")


def add_gpus(add: AddCommand) -> None:
    add("gpus", cmd_gpus, "show the host's GPUs (or CPU and memory without a driver)", run=False)
