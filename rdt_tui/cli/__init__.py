"""``rdt-tui``: the console (``demo``, ``watch``) and the headless subcommands beside it.

Every subcommand exits non-zero on error with the message (and a hint) on stderr, never a
traceback; ``--json`` prints exactly one JSON document on stdout.

This package assembles the parser from one module per group of subcommands and maps errors
to messages. Those modules import ``common`` (and each other, without a cycle), never this
package.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from ..client import AgentCallError
from ..transport.base import TransportError
from . import (
    adopt,
    alerts,
    console,
    demo,
    examples,
    group,
    launch,
    metrics,
    preflight,
    runs,
    slurm,
    ssh,
)
from .common import LINGER_S, LOCAL_HOSTS, CliError, cli_session, make_client
from .console import host_actions, host_rows, hosts_console_app

__all__ = [
    "CliError",
    "build_parser",
    "host_actions",
    "host_rows",
    "hosts_console_app",
    "main",
    "make_client",
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rdt-tui",
        description="Train robot-learning models on remote GPU nodes. Without a command, "
        "opens the console on the hosts screen. HOST `localhost` means this machine, "
        "without SSH.",
    )
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    def add(
        name: str,
        fn: Callable[..., Awaitable[int]],
        help_: str,
        run: bool = True,
        json_: bool = True,
    ) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("host", metavar="HOST")
        if run:
            sp.add_argument("run", metavar="RUN", help="run id (see `rdt-tui runs HOST`)")
        if json_:
            sp.add_argument("--json", action="store_true", help="print one JSON document")
        sp.add_argument(
            "--simulate-gpus",
            type=int,
            default=0,
            metavar="N",
            help="serve N SIMULATED GPUs (restarts an agent daemon without live runs if it "
            "differs)",
        )
        sp.set_defaults(fn=fn)
        return sp

    # The order here is the order of `rdt-tui --help`.
    launch.add_parsers(add)
    runs.add_runs(add)
    runs.add_status(add)
    slurm.add_parsers(add)
    runs.add_logs(add)
    metrics.add_parsers(add)
    runs.add_stop(add)
    runs.add_checkpoints(add)
    console.add_watch(add)
    runs.add_gpus(add)
    demo.add_parsers(sub)
    console.add_keys(sub)
    ssh.add_parsers(sub, add)
    preflight.add_parsers(add)
    group.add_parsers(sub)
    alerts.add_parsers(add)
    adopt.add_parsers(add)
    examples.add_examples(sub)
    return p


async def _run(a: argparse.Namespace) -> int:
    # Kept across a reconnect (`logs -f`): a dropped node channel does not ask for the jump's
    # code again while the jump's connection lives.
    # None for this machine: no SSH, and no import of it (a fifth of `runs`' start-up).
    session = None if a.host in LOCAL_HOSTS else cli_session(LINGER_S)
    try:
        client = make_client(a.host, a.simulate_gpus, reconnect=True, session=session)
        try:
            await client.connect()
        except (AgentCallError, OSError) as exc:
            raise CliError(f"cannot reach the agent on {a.host}: {exc}") from None
        served = int(client.info.get("simulated_gpus") or 0)
        if served != a.simulate_gpus:
            # attach keeps a daemon that watches live runs rather than replace it for this
            print(
                f"rdt-tui: note: the agent on {a.host} has live runs and keeps its setting: "
                + (f"{served} SIMULATED GPUs" if served else "real GPUs")
                + f", not --simulate-gpus {a.simulate_gpus}",
                file=sys.stderr,
            )
        try:
            return int(await a.fn(client, a))
        finally:
            await client.close()
    finally:
        if session is not None:
            session.close()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` is the job's argv, untouched (argparse would eat its options).
    command: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1 :]
    a = parser.parse_args(argv)
    if command:
        if a.cmd != "launch":
            parser.error("only `launch` takes a command after --")
        a.command = command
    if not a.cmd:
        try:
            return console.run_hosts_console()
        except CliError as exc:
            _fail(exc.message, exc.hint)
            return 1
    try:
        if (a.cmd == "demo" and not a.headless) or a.cmd == "watch":
            return console.run_console(a)
        if getattr(a, "sync_fn", None):
            return int(a.sync_fn(a))
        return asyncio.run(_run(a))
    except CliError as exc:
        _fail(exc.message, exc.hint)
    except AgentCallError as exc:
        _fail(exc.message, exc.hint)
    except TransportError as exc:
        _fail(f"{exc.title}: {exc.message}", exc.hint)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return 1


def _fail(message: str, hint: str = "") -> None:
    print(f"rdt-tui: error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
