"""The console (Textual) as the command line opens it: plain ``rdt-tui`` (the hosts screen),
``rdt-tui watch HOST RUN`` and ``rdt-tui demo`` (one run's dashboard), and ``rdt-tui keys``.
Here the console's screens meet the world: the clients, the hosts file and known_hosts are
handed to them as callables (``HostActions``), so ``tui`` imports neither ``config`` nor
``transport``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from ..client import AgentClient
from .common import (
    HOSTS_HINT,
    LINGER_S,
    AddCommand,
    CliError,
    emit_json,
    load_settings,
    make_client,
)
from .demo import demo_plan, live_demo_run
from .runs import cmd_status


def console_session() -> tuple[Any, Any]:
    """The console's prompter (a modal) and the SSH session all its screens share."""
    from ..transport.session import SshSession
    from ..tui.secret_prompt import ConsolePrompter

    prompter = ConsolePrompter()
    return prompter, SshSession(prompter, linger_s=LINGER_S)


def need_terminal(instead: str) -> None:
    """CliError unless stdin and stdout are a terminal: without one the console would paint
    escape codes into a pipe or a file and wait for keys that never come."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CliError(
            "the console needs a terminal (stdin and stdout here are not one)",
            f"run it in a terminal (ssh -t, tmux), or {instead}",
        )


def run_console(a: argparse.Namespace) -> int:
    """The console on one run: the demo's (launched if none is alive) or ``watch HOST RUN``."""
    from ..tui.app import make_app

    if a.cmd == "watch":
        need_terminal(f"follow it headless: rdt-tui logs {a.host} {a.run} -f")
    else:
        need_terminal("run the demo headless: rdt-tui demo --headless")
    prompter, session = console_session()

    async def open_run() -> tuple[AgentClient, Any]:
        client = make_client(a.host, a.simulate_gpus, reconnect=True, session=session)
        await client.connect()
        if a.cmd == "watch":
            return client, str((await client.status(a.run))["id"])
        live = await live_demo_run(client)
        if live is not None:
            return client, str(live["id"])  # come back to the run already going
        # Making the dataset is disk work: off the console's event loop.
        return client, await asyncio.to_thread(demo_plan, a)

    app = make_app(open_run, load_settings(), prompter=prompter, at_exit=session.close)
    app.run()
    if app.failure is not None:  # a bad run id or host: said on stderr, exit non-zero
        raise CliError(*app.failure)
    return 0 if app.return_code in (None, 0) else int(app.return_code)


def cmd_keys(a: argparse.Namespace) -> int:
    from ..tui.keys import key_rows

    settings = load_settings()
    rows = key_rows(settings.keys)
    if a.json:
        emit_json([vars(r) for r in rows])
        return 0
    print(f"{'binding id':24} {'keys':14} {'where':16} action")
    for r in rows:
        print(f"{r.id:24} {r.keys:14} {r.where:16} {r.description}")
    where = settings.path or "settings.toml in the config directory"
    print(f'\nremap: add `"<binding id>" = "<key>"` under [keys] in {where}')
    return 0


def run_hosts_console() -> int:
    """Plain ``rdt-tui``: the console on the hosts screen."""
    need_terminal("use the headless commands: rdt-tui --help")
    hosts_console_app().run()
    return 0


def hosts_console_app() -> Any:
    """The hosts console as ``rdt-tui`` opens it: every screen's clients share one SSH
    session, whose passwords and codes are asked in the console's modal."""
    from ..config.hosts import HostsError
    from ..tui.app import make_console_app

    try:
        rows = host_rows()
    except HostsError as exc:
        raise CliError(str(exc), HOSTS_HINT) from None
    prompter, session = console_session()
    return make_console_app(
        rows,
        lambda name: make_client(name, 0, reconnect=True, session=session),
        load_settings(),
        host_actions(session),
        prompter=prompter,
        at_exit=session.close,
    )


def host_rows() -> list[Any]:
    """The hosts screen's rows (a file that cannot be read raises config's HostsError)."""
    from ..config.hosts import HostBook
    from ..tui.screens.hosts_screen import HostRow

    rows = [HostRow("localhost", "this machine (no SSH)", "")]
    for e in HostBook.load().entries.values():
        user = f"{e.user}@" if e.user else ""
        rows.append(HostRow(e.name, f"{user}{e.hostname}:{e.port}", " -> ".join(e.jump)))
    return rows


def host_actions(session: Any = None) -> Any:
    """The hosts screen's add/edit/trust, on the user's hosts file and known_hosts; a jump
    is logged into through ``session`` (the console's), so trusting asks what it asks once."""
    from ..config.hosts import HostBook
    from ..config.hostsave import save_host, user_hosts_file
    from ..transport.trust import trust_chain
    from ..tui.screens.hosts_screen import AskTrust, HostActions

    def values(name: str) -> dict[str, Any]:
        entry = HostBook.load().get(name)
        doc = entry.to_json()
        doc["identity_file"] = entry.identity_files[0] if entry.identity_files else ""
        return doc

    async def trust(name: str, ask: AskTrust) -> list[tuple[str, str, str]]:
        results = await trust_chain(
            HostBook.load().chain(name), lambda hop, fp: ask(hop.label, fp), session=session
        )
        return [(hop.label, fp, outcome) for hop, fp, outcome in results]

    return HostActions(
        rows=host_rows,
        values=values,
        save=lambda fields, replaces: save_host(user_hosts_file(), fields, replaces),
        trust=trust,
    )


def add_watch(add: AddCommand) -> None:
    # `main` opens the console for `watch`: the fn given here is never called.
    add(
        "watch",
        cmd_status,
        "open the console's dashboard on a run (q quits, the run goes on)",
        json_=False,
    )


def add_keys(sub: Any) -> None:
    sp = sub.add_parser(
        "keys",
        help="list the console's keys by binding id (remap them in settings.toml [keys])",
        description="Every key of the console: its binding id, the keys it has now (after "
        "[keys] in settings.toml), what it does and where. Remap with lines such as "
        '`"dashboard.stop" = "x"` under [keys].',
        epilog="example: rdt-tui keys --json",
    )
    sp.add_argument("--json", action="store_true", help="print one JSON document")
    sp.set_defaults(sync_fn=cmd_keys)
