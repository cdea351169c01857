"""The runs screen shows a run's whole command on its one row: an argument holding a newline
(`python -c` code) is marked with ⏎ as on the profiles table, not cut at its first line
(`python3 -c import time` and nothing after)."""

from __future__ import annotations

import sys

import pytest
from textual.widgets import DataTable

from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport
from rdt_tui.tui.app import make_console_app
from rdt_tui.tui.screens.hosts_screen import HostRow, HostsScreen
from rdt_tui.tui.screens.runs_screen import RunsScreen

from .conftest import wait_status
from .test_tui_console import local_factory
from .test_tui_dashboard import until

pytestmark = pytest.mark.asyncio


async def test_a_command_with_a_newline_stays_on_its_row(state_dir: str, workdir: str) -> None:
    async with AgentClient(LocalTransport(state_dir)) as c:
        run = await c.call(
            "launch", {"argv": [sys.executable, "-c", "import sys\nprint(1)"], "cwd": workdir}
        )
        await wait_status(c, run["id"], {"exited"}, timeout=60)
    app = make_console_app([HostRow("localhost", "this machine", "")], local_factory(state_dir))
    async with app.run_test(size=(160, 40)) as pilot:
        await until(lambda: isinstance(app.screen, HostsScreen))
        await until(lambda: app.screen.status.get("localhost") == "reachable")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, RunsScreen))
        table = app.screen.query_one("#runs", DataTable)
        await until(lambda: table.row_count == 1)
        cell = str(table.get_row_at(0)[-1])
        assert cell.endswith("-c import sys ⏎ print(1)"), cell
        await pilot.press("q")
