"""The cipher negotiated with a real OpenSSH sshd, on every hop through the jump: AES-GCM,
which costs less per byte here than asyncssh's default chacha20-poly1305, and a server that
offers only another cipher still connects."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator

import pytest

from rdt_tui.config.hosts import HostBook
from rdt_tui.config.sshconfig import load_ssh_config
from rdt_tui.transport.ssh import SshConnector

from .sshd import SshLab, sshd_path, start_lab

pytestmark = [
    pytest.mark.skipif(sshd_path() is None, reason="openssh-server is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the sshd lab needs root (users, namespaces)"),
]


@pytest.fixture(scope="module")
def lab() -> Iterator[SshLab]:
    lab = start_lab()
    yield lab
    lab.stop()
    shutil.rmtree(lab.root, ignore_errors=True)


def ciphers(lab: SshLab) -> list[tuple[str, str]]:
    async def go() -> list[tuple[str, str]]:
        hops = HostBook(load_ssh_config(lab.ssh_config), []).chain("node")
        connector = SshConnector(hops)
        try:
            await connector.connect()
            return [
                (c.get_extra_info("send_cipher"), c.get_extra_info("recv_cipher"))
                for c in connector._conns
            ]
        finally:
            connector.close()

    return asyncio.run(asyncio.wait_for(go(), 60))


def test_every_hop_negotiates_aes_gcm(lab: SshLab) -> None:
    got = ciphers(lab)
    assert len(got) == 2  # the jump and the node
    assert got == [("aes128-gcm@openssh.com", "aes128-gcm@openssh.com")] * 2


def test_a_node_offering_only_chacha20_still_connects(lab: SshLab) -> None:
    with open(lab.node.config, "a") as fh:
        fh.write("Ciphers chacha20-poly1305@openssh.com\n")
    lab.node.stop()
    lab.node.start()
    got = ciphers(lab)
    assert got[1] == ("chacha20-poly1305@openssh.com", "chacha20-poly1305@openssh.com")
