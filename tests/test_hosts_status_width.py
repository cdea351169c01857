"""The hosts screen widens its columns to what a check writes into them: a host's reason for
being unreachable and the agent's build were cut to the width of `checking...` and of the
header (`Host unreac`, `120b8`) whatever the terminal's width, so a new user saw no reason."""

from __future__ import annotations

import os

import pytest
from textual.widgets import DataTable

from rdt_tui.tui.app import make_console_app
from rdt_tui.tui.screens.hosts_screen import HostsScreen

from .test_tui_console import closed_port, local_factory
from .test_tui_dashboard import until

pytestmark = pytest.mark.asyncio


async def test_status_and_agent_columns_show_the_whole_text(
    state_dir: str, workdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rdt_tui.cli import host_rows

    cfg = os.path.join(workdir, "cfg")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "hosts.toml"), "w") as fh:
        fh.write(f'[[hosts]]\nname = "gone"\nhostname = "127.0.0.1"\nport = {closed_port()}\n')
    ssh_config = os.path.join(workdir, "ssh_config")
    open(ssh_config, "w").close()
    monkeypatch.setenv("RDT_TUI_CONFIG_DIR", cfg)
    monkeypatch.setenv("RDT_TUI_SSH_CONFIG", ssh_config)
    monkeypatch.chdir(workdir)
    app = make_console_app(host_rows(), local_factory(state_dir))
    async with app.run_test(size=(200, 30)):
        await until(lambda: isinstance(app.screen, HostsScreen))
        screen = app.screen
        assert isinstance(screen, HostsScreen)
        await until(lambda: screen.status.get("localhost") == "reachable", timeout=60)
        await until(lambda: screen.status.get("gone", "checking...") != "checking...", timeout=60)
        reason = screen.status["gone"]
        assert "127.0.0.1" in reason  # why, with the address: worth reading in full
        table = screen.query_one(DataTable)
        assert table.get_cell("gone", "status") == reason
        assert table.columns["status"].content_width >= len(reason)  # type: ignore[index]
        build = str(table.get_cell("localhost", "agent"))
        assert len(build) == 8
        assert table.columns["agent"].content_width >= len(build)  # type: ignore[index]
