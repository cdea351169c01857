"""`attach` runs for every connection (each CLI command, each console pane's reconnect): it
imports what relaying needs, not the daemon and everything the daemon serves with. And a
CLI command for this machine imports no SSH library."""

from __future__ import annotations

import os
import subprocess
import sys


def modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=os.getcwd()),
    )
    return set(out.stdout.split())


def test_attach_imports_neither_the_daemon_nor_its_service() -> None:
    loaded = modules_after("import rdt_tui.agent.main, rdt_tui.agent.attach")
    assert "rdt_tui.agent.attach" in loaded
    assert not {"rdt_tui.agent.daemon", "rdt_tui.agent.service", "asyncio"} & loaded


def test_a_command_for_this_machine_imports_no_ssh() -> None:
    # The listing of the test's own empty state directory (conftest stops its daemon after).
    code = "from rdt_tui.cli import main\nrc = main(['runs', 'localhost'])\nassert rc == 0, rc\n"
    loaded = modules_after(code)
    assert "rdt_tui.cli.runs" in loaded
    assert "asyncssh" not in loaded
