"""``rdt-tui alerts HOST``: the alerts the node's agent raised (with or without a console),
and ``--push`` / ``--test`` for the webhook that delivers them. The rules run on the node
(``agent/alerting.py``); this module parses arguments and prints."""

from __future__ import annotations

import argparse
import datetime
import re
import time
from typing import Any

from ..client import AgentClient
from ..protocol.messages import Alert
from .common import AddCommand, CliError, emit_json, load_settings

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float | None = None) -> float:
    """``30m``, ``2h``, ``1d`` (ago), an ISO date/time (local), or seconds since the epoch."""
    now = time.time() if now is None else now
    match = _AGO.match(text.strip())
    if match:
        return now - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise CliError(
            f"--since {text!r} is not a time", "use 30m, 2h, 1d, 2026-12-01T03:00 or epoch seconds"
        ) from None


def when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def format_alert(a: Alert) -> str:
    run = a.get("run") or "-"
    return f"{when(float(a.get('t') or 0))}  {a.get('severity', ''):7} {run:30} {a.get('message')}"


async def cmd_alerts(client: AgentClient, a: argparse.Namespace) -> int:
    if a.push:
        settings = load_settings("see docs/alerts.md")
        if not settings.notify and not settings.alerts:
            raise CliError(
                f"no [notify] or [alerts] in {settings.path}", "see docs/alerts.md for the keys"
            )
        args: dict[str, Any] = {}  # only what the settings hold: the node keeps the rest
        if settings.alerts:
            args["rules"] = settings.alerts
        if settings.notify:
            args["notify"] = settings.notify
        result = await client.notify(args)
    else:
        result = None
    if a.test:
        result = await client.notify({"test": True})
    since_t = parse_since(a.since) if a.since else 0.0
    doc = await client.alerts(since_t, unseen=a.unseen)
    doc.update(result or {})  # the webhook's state as the push or the test left it
    if a.json:
        emit_json(doc)
        return 0
    for alert in doc["alerts"]:
        print(format_alert(alert))
    if not doc["alerts"]:
        print("no alerts" + (" in that time" if a.since else ""))
    n = doc.get("notify")
    if n:
        print(
            f"webhook: {n['url']} ({n['format']}): delivered {n['delivered']}, "
            f"failed {n['failed']}, dropped {n['dropped']}"
        )
    else:
        print("webhook: none (set [notify] in settings.toml, then `rdt-tui alerts HOST --push`)")
    if doc.get("problem"):
        print(f"problem: {doc['problem']}")
    return 0


def add_parsers(add: AddCommand) -> None:
    sp = add(
        "alerts",
        cmd_alerts,
        "list the alerts the host's agent raised, console attached or not",
        run=False,
    )
    sp.add_argument("--since", metavar="WHEN", help="only newer ones: 30m, 2h, 1d, an ISO time")
    sp.add_argument("--unseen", action="store_true", help="only those no console has shown yet")
    sp.add_argument(
        "--push",
        action="store_true",
        help="send [notify] and [alerts] of your settings.toml to the host first",
    )
    sp.add_argument("--test", action="store_true", help="post a test alert to the webhook")
    sp.epilog = "The webhook URL is a secret: it is shown as scheme://host/… only (docs/alerts.md)."
