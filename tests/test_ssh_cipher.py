"""The cipher negotiated with a real OpenSSH sshd, on every hop through the jump: AES-GCM,
which costs less per byte here than asyncssh's default chacha20-poly1305, and a server that
offers only another cipher still connects."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from rdt_tui.config.hosts import HostBook
from rdt_tui.config.sshconfig import load_ssh_config
from rdt_tui.transport.ssh import SshConnector

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


def ciphers(lab: SshLab) -> list[tuple[str, str]]:
    async def go() -> list[tuple[str, str]]:
        hops = HostBook(load_ssh_config(lab.ssh_config), []).chain("node")
        connector = SshConnector(hops)
        try:
            # Each hop's connection (the session shares them: no second connect).
            conns = [await connector.connect_through(i + 1) for i in range(len(hops))]
            return [
                (c.get_extra_info("send_cipher"), c.get_extra_info("recv_cipher")) for c in conns
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


def test_sftp_requests_as_large_as_openssh_allows_and_bytes_round_trip(
    lab: SshLab, tmp_path: object
) -> None:
    """Reads and writes go in the server's own request size (limits@openssh.com), with about
    a channel window of them in flight; a file of odd size survives a push and a pull."""
    from rdt_tui.transport.sftp_side import open_sftp_side
    from rdt_tui.transport.transfer import IN_FLIGHT, requests_for

    data = os.urandom(5 * (1 << 20) + 12345)
    local = os.path.join(str(tmp_path), "a.bin")
    with open(local, "wb") as fh:
        fh.write(data)
    remote = f"rdt-cipher-{os.getpid()}.bin"

    async def go() -> tuple[int, int, bytes]:
        hops = HostBook(load_ssh_config(lab.ssh_config), []).chain("node")
        connector = SshConnector(hops)
        try:
            conn = await connector.connect()
            sftp, side = await open_sftp_side(conn, "/usr/bin/python3")
            try:

                async def chunks() -> AsyncIterator[bytes]:
                    yield data

                await side.append(remote, chunks(), lambda n: None)
                back = b"".join([b async for b in side.read(remote, 0)])
                await side.remove(remote)
                return sftp.limits.max_read_len, sftp.limits.max_write_len, back
            finally:
                sftp.exit()
        finally:
            connector.close()

    read_len, write_len, back = asyncio.run(asyncio.wait_for(go(), 60))
    assert read_len > 64 * 1024 and write_len > 64 * 1024  # OpenSSH: 255 KiB each
    assert requests_for(read_len) * read_len <= IN_FLIGHT + read_len
    assert requests_for(16 * 1024) == 128 and requests_for(0) == 128
    assert back == data


def test_a_pull_streams_over_exec_not_sftp_reads(
    lab: SshLab, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pull through the jump never opens the source for reading over SFTP (one stream from
    a reader process is ~1.7x faster here), resumes from a part file, and checks its hash."""
    import asyncssh

    from rdt_tui.client import AgentClient
    from rdt_tui.transport.ssh import SshTransport

    opened: list[str] = []
    real_open = asyncssh.SFTPClient.open

    def spy(self, path, mode="r", *args, **kwargs):
        opened.append(f"{mode}:{path}")
        return real_open(self, path, mode, *args, **kwargs)

    monkeypatch.setattr(asyncssh.SFTPClient, "open", spy)
    data = os.urandom(3 * (1 << 20) + 7)
    src = os.path.join(lab.home, f"rdt-pull-src-{os.getpid()}.bin")
    with open(src, "wb") as fh:
        fh.write(data)
    shutil.chown(src, lab.user)
    dst = os.path.join(str(tmp_path), "got.bin")
    with open(dst + ".rdt-part", "wb") as fh:
        fh.write(data[:1000])  # an interrupted earlier pull

    async def go() -> None:
        hops = HostBook(load_ssh_config(lab.ssh_config), []).chain("node")
        c = AgentClient(SshTransport("node", hops, python="/usr/bin/python3"))
        progress = await c.pull(src, dst)
        assert progress.resumed_bytes == 1000
        await c.close()

    try:
        asyncio.run(asyncio.wait_for(go(), 60))
    finally:
        os.unlink(src)
    with open(dst, "rb") as got:
        assert got.read() == data
    assert not [o for o in opened if o.startswith("r")], opened
