"""Every worker goes through the guard: the three the app started by hand (the alerts read
on attach, twice, and the close of a forgotten host) took the console down on an error."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import rdt_tui.tui
from rdt_tui.protocol.messages import Alerts
from rdt_tui.tui.app import make_app, make_console_app
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.screens.hosts_screen import HostRow, HostsScreen

from .fakes import FakeClient
from .test_tui_dashboard import until


def notes(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


class OddAlerts(FakeClient):
    """A node whose alert log holds a time no clock can show (a corrupt record)."""

    async def alerts(
        self, since_t: float = 0.0, unseen: bool = False, mark_seen: bool = False
    ) -> Alerts:
        return {"alerts": [{"t": 1e300, "run": "r", "message": "exited with code 1"}]}


class CloseFails(FakeClient):
    async def close(self) -> None:
        raise OSError("the link broke while closing")


def test_no_worker_is_started_around_the_guard() -> None:
    root = Path(rdt_tui.tui.__file__).parent
    found = [
        f"{path.relative_to(root)}:{i}"
        for path in sorted(root.rglob("*.py"))
        if path.name != "guard.py"
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\brun_worker\(", line)
    ]
    assert not found, f"run_worker outside guard.run_guarded: {found}"


async def test_an_error_reading_the_alerts_on_attach_is_a_notification() -> None:
    async def open_run() -> tuple[Any, str]:
        return OddAlerts(), "rdt-finetune-1"

    app = make_app(open_run)
    async with app.run_test(size=(120, 40)):
        said = "Reading the alerts failed"
        await until(lambda: not app.is_running or any(said in n for n in notes(app)))
        assert app.is_running, "the console ended on the worker's error"
        assert isinstance(app.screen, DashboardScreen)
        assert any("timestamp out of range" in n for n in notes(app)), notes(app)


async def test_an_error_closing_a_forgotten_host_is_a_notification() -> None:
    rows = [HostRow("gpu-a", "alice@gpu-node:22", "")]
    app = make_console_app(rows, lambda _: CloseFails())
    async with app.run_test(size=(120, 40)):
        await until(lambda: isinstance(app.screen, HostsScreen))
        hosts = app.screen
        assert isinstance(hosts, HostsScreen)
        await until(lambda: hosts.status.get("gpu-a") == "reachable")
        app.forget_host("gpu-a")  # as after an edit of its entry
        said = "Closing the link to gpu-a failed"
        await until(lambda: not app.is_running or any(said in n for n in notes(app)))
        assert app.is_running, "the console ended on the worker's error"
        assert any("the link broke while closing" in n for n in notes(app)), notes(app)
