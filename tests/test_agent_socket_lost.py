"""The daemon's socket file removed (a cleanup script, `rm` of the wrong file) or its whole state
directory removed: the next attach reaches the agent again in a bounded time, and a daemon
whose state directory is gone does not live on unreachable."""

from __future__ import annotations

import asyncio
import os
import shutil
import time

import pytest

from rdt_tui.agent.peer import socket_path

from .conftest import Agent

pytestmark = pytest.mark.asyncio


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(") ")[1][:1] != "Z"


async def test_a_removed_socket_is_made_again_and_the_agent_answers(agent: Agent) -> None:
    c = await agent.client()
    await c.runs()
    pid = agent.daemon_pid()
    await agent.close_all()
    os.unlink(socket_path(agent.state_dir))
    deadline = time.monotonic() + 30
    while not os.path.exists(socket_path(agent.state_dir)):
        assert time.monotonic() < deadline, "the daemon never listened again"
        await asyncio.sleep(0.2)
    c = await asyncio.wait_for(agent.client(), 30)
    assert await c.runs() == []
    assert agent.daemon_pid() == pid  # the same daemon, its runs still followed


async def test_a_daemon_whose_state_directory_is_gone_ends(agent: Agent) -> None:
    c = await agent.client()
    await c.runs()
    pid = agent.daemon_pid()
    await agent.close_all()
    shutil.rmtree(agent.state_dir)
    deadline = time.monotonic() + 30
    while alive(pid):
        assert time.monotonic() < deadline, "the daemon lived on with its state directory gone"
        await asyncio.sleep(0.2)
