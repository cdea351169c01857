"""``rdt-tui group --profile P``: one job across the profile's hosts, headless. A run per host
through its agent (rank 0 first), the merged metric stream printed with each point's host,
and when one host's group dies the others are stopped (unless ``stop_together = false``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from .common import LINGER_S, CliError, cli_session, load_profile, make_client, set_values


def cmd_group(a: argparse.Namespace) -> int:
    from ..client.group import launch_group, watch_group
    from ..protocol.messages import Event
    from ..protocol.wire import points_of

    profile = load_profile(a.profile)
    if len(profile.hosts) < 2:
        raise CliError(f"{profile.path}: `hosts` names fewer than two hosts", "use launch")
    values = set_values(a.set)

    async def run() -> int:
        session = cli_session(LINGER_S)  # hosts behind one jump: its password asked once
        clients = {h: make_client(h, reconnect=True, session=session) for h in profile.hosts}
        try:
            await asyncio.gather(*(c.connect() for c in clients.values()))
            report = await launch_group(clients, profile, values)
            runs = ", ".join(f"{h}={r}" for h, r in report.runs.items())
            print(f"group {report.group}: {runs}", file=sys.stderr, flush=True)

            def on_event(host: str, ev: Event) -> None:
                if ev["event"] == "metric" and not a.json:
                    for p in points_of(ev["data"]):
                        print(
                            f"{host:12} step {p['step']:>6}  {p['name']:10} {p['value']}",
                            flush=True,
                        )

            await watch_group(clients, report, profile.stop_together, on_event)
        finally:
            for c in clients.values():
                await c.close()
            session.close()
        if a.json:
            print(
                json.dumps(
                    {
                        "group": report.group,
                        "runs": report.runs,
                        "final": report.final,
                        "first_dead": report.first_dead,
                        "stopped": report.stopped,
                        "ok": report.ok,
                    },
                    indent=2,
                )
            )
        else:
            print(report.summary())
        return 0 if report.ok else 1

    return asyncio.run(run())


def add_parsers(sub: Any) -> None:
    sp = sub.add_parser(
        "group",
        help="run a multi-node profile: a rank group per host, merged metrics, stopped together",
        description="Launch the profile on every host of its `hosts` list (rank 0 first) "
        "with the launcher's multi-machine arguments, print the merged metric points, and "
        "stop the other hosts' groups when one dies (unless stop_together = false).",
    )
    sp.add_argument("--profile", required=True, help="profile name or path")
    sp.add_argument("--set", action="append", metavar="FIELD=VALUE", help="a form value")
    sp.add_argument("--json", action="store_true", help="print one JSON document at the end")
    sp.set_defaults(sync_fn=cmd_group)
