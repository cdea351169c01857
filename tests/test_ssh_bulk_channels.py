"""Channels that carry bulk bytes take a wide window and large packets, against a real OpenSSH
sshd through the jump: the next hop's connection forwarded by the jump, and the reader that
streams a pulled file (a window caps a stream at window / round trip; see transfer.py)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from rdt_tui.config.hosts import HostBook
from rdt_tui.config.sshconfig import load_ssh_config
from rdt_tui.transport.ssh import SshConnector
from rdt_tui.transport.transfer import BULK_PKTSIZE, BULK_WINDOW

from .sshd import SshLab, remove_lab, sshd_path, start_lab

pytestmark = [
    pytest.mark.skipif(sshd_path() is None, reason="openssh-server is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the sshd lab needs root (users, namespaces)"),
]


@pytest.fixture(scope="module")
def lab() -> Iterator[SshLab]:
    lab = start_lab()
    yield lab
    remove_lab(lab)


def test_the_node_connection_through_the_jump_rides_a_wide_channel(lab: SshLab) -> None:
    async def go() -> tuple[int, int, Any]:
        hops = HostBook(load_ssh_config(lab.ssh_config), []).chain("node")
        connector = SshConnector(hops)
        try:
            conn = await connector.connect()
            channel: Any = conn._transport  # the jump's forwarded channel the node's bytes ride
            result = await conn.run("echo hello", check=True)
            return channel._init_recv_window, channel._recv_pktsize, result.stdout
        finally:
            connector.close()

    window, pktsize, out = asyncio.run(asyncio.wait_for(go(), 60))
    assert (window, pktsize) == (BULK_WINDOW, BULK_PKTSIZE)
    assert out.strip() == "hello"


def test_a_pulled_file_streams_over_a_wide_channel_and_arrives_whole(
    lab: SshLab, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncssh

    from rdt_tui.client import AgentClient
    from rdt_tui.transport.ssh import SshTransport

    channels: list[tuple[int, int]] = []
    real = asyncssh.SSHClientConnection.create_process

    async def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        proc = await real(self, *args, **kwargs)
        command = str(args[0] if args else kwargs.get("command", ""))
        if "sys.stdout.buffer.write" in command:  # the file reader, not a one-shot op
            channels.append((proc.channel._init_recv_window, proc.channel._recv_pktsize))
        return proc

    monkeypatch.setattr(asyncssh.SSHClientConnection, "create_process", spy)
    data = os.urandom(9 * (1 << 20) + 4321)
    src = os.path.join(lab.home, f"rdt-bulk-src-{os.getpid()}.bin")
    with open(src, "wb") as out:
        out.write(data)
    shutil.chown(src, lab.user)
    dst = os.path.join(str(tmp_path), "got.bin")

    async def go() -> None:
        hops = HostBook(load_ssh_config(lab.ssh_config), []).chain("node")
        c = AgentClient(SshTransport("node", hops, python="/usr/bin/python3"))
        try:
            await c.pull(src, dst)
        finally:
            await c.close()

    try:
        asyncio.run(asyncio.wait_for(go(), 90))
    finally:
        os.unlink(src)
    assert channels == [(BULK_WINDOW, BULK_PKTSIZE)]
    with open(dst, "rb") as fh:
        assert fh.read() == data
