"""A frozen SSH link in the two-sshd lab: the dashboard marks it stale within 5 s (SSH
keepalives alone took about 19 s), and fresh again once the link thaws."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from rdt_tui.client import AgentClient
from rdt_tui.config.hosts import HostBook
from rdt_tui.config.sshconfig import load_ssh_config
from rdt_tui.transport.ssh import SshTransport
from rdt_tui.tui.app import make_app
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.widgets.status_bar import StatusBar

from .conftest import kill_run
from .sshd import SshLab, sshd_path, start_lab
from .test_tui_status import until

NODE_PYTHON = "/usr/bin/python3"
STALE_WITHIN_S = 5.0  # the bound: "stale within 5 s of a frozen SSH session"

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(sshd_path() is None, reason="openssh-server is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the sshd lab needs root (users, namespaces)"),
    pytest.mark.skipif(not os.path.exists(NODE_PYTHON), reason="no /usr/bin/python3 for the node"),
]

TICKER = (
    "import time\n"
    "for i in range(100000):\n"
    "    print(f'step={i} loss=1', flush=True)\n"
    "    time.sleep(0.2)\n"
)


@pytest.fixture(scope="module")
def lab() -> Iterator[SshLab]:
    lab = start_lab()
    yield lab
    lab.stop()
    subprocess.run(["pkill", "-KILL", "-u", lab.user], check=False)
    shutil.rmtree(lab.root, ignore_errors=True)


def bar_text(app: Any) -> str:
    return str(app.screen.query_one(StatusBar).render())


async def test_a_frozen_link_is_stale_within_5_s_and_fresh_when_it_thaws(lab: SshLab) -> None:
    chain = HostBook(load_ssh_config(lab.ssh_config), []).chain("node")
    state = f"/tmp/rdt-node-{uuid.uuid4().hex[:8]}"
    transport = SshTransport("node", chain, python=NODE_PYTHON, state_dir=state, connect_timeout=10)
    client = AgentClient(transport, reconnect=True)
    await client.connect()
    run = str((await client.launch([NODE_PYTHON, "-c", TICKER], cwd="/tmp"))["id"])

    async def open_run() -> tuple[Any, str]:
        return client, run

    app = make_app(open_run)
    frozen: list[int] = []
    try:
        async with app.run_test(size=(120, 40)):
            await until(
                lambda: (
                    isinstance(app.screen, DashboardScreen)
                    and "link connected" in bar_text(app)
                    and "data 0s ago" in bar_text(app)
                ),
                timeout=60,
            )
            frozen = lab.node.session_pids()
            assert frozen
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)  # the node's sshd stops moving bytes
            froze_at = time.monotonic()
            await until(lambda: "STALE" in bar_text(app), timeout=STALE_WITHIN_S)
            seen_after = time.monotonic() - froze_at
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
            frozen = []
            await until(lambda: "STALE" not in bar_text(app), timeout=60)
            print(f"stale shown {seen_after:.1f} s after the freeze")
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        kill_run(run)
        await asyncio.wait_for(client.close(), 20)
