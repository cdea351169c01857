"""A node whose sshd has no SFTP subsystem, reached through the jump: the agent still deploys
(streamed over an exec channel, hash-checked on the node), runs a job and serves its metrics;
a failed upload says why; push and pull work the same over exec channels."""

from __future__ import annotations

import asyncio
import glob
import hashlib
import os
import pwd
import shutil
import stat
import uuid
from collections.abc import Iterator

import asyncssh
import pytest

from rdt_tui.agent.build import build_hash, zipapp_bytes
from rdt_tui.client import AgentClient
from rdt_tui.config.hosts import Hop, HostBook
from rdt_tui.config.sshconfig import load_ssh_config
from rdt_tui.transport.base import TransportError
from rdt_tui.transport.ssh import SshConnector, SshTransport
from rdt_tui.transport.transfer import PART, TransferError

from .sshd import LAB_MARKS, NODE_PYTHON, SshLab, remove_lab, start_lab

pytestmark = LAB_MARKS


@pytest.fixture(scope="module")
def lab() -> Iterator[SshLab]:
    lab = start_lab(node_sftp=False)
    yield lab
    remove_lab(lab)


@pytest.fixture
def node_state() -> Iterator[str]:
    path = f"/tmp/rdt-nosftp-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def cache_dir(lab: SshLab) -> str:
    return os.path.join(lab.home, ".cache", "rdt-tui")


@pytest.fixture
def no_agent_yet(lab: SshLab) -> Iterator[str]:
    """The node's agent cache emptied, so the next connect must upload."""
    cache = cache_dir(lab)
    shutil.rmtree(cache, ignore_errors=True)
    yield cache
    shutil.rmtree(cache, ignore_errors=True)


def hops(lab: SshLab) -> list[Hop]:
    return HostBook(load_ssh_config(lab.ssh_config), []).chain("node")


def client(lab: SshLab, state: str) -> AgentClient:
    transport = SshTransport(
        "node", hops(lab), python=NODE_PYTHON, state_dir=state, connect_timeout=10
    )
    return AgentClient(transport)


async def test_the_node_really_refuses_sftp(lab: SshLab) -> None:
    connector = SshConnector(hops(lab), lab.known_hosts, 10)
    conn = await connector.connect()
    try:
        with pytest.raises(asyncssh.ChannelOpenError, match="Session request failed"):
            await conn.start_sftp_client()
    finally:
        connector.close()


async def test_deploy_launch_and_metrics_without_sftp(
    lab: SshLab, node_state: str, no_agent_yet: str
) -> None:
    code = "for i in range(1, 6): print(f'step={i} loss={1/i:.3f}', flush=True)\n"
    async with client(lab, node_state) as c:
        assert c.info["build"] == build_hash()
        run = await c.launch([NODE_PYTHON, "-c", code], cwd="/tmp", name="nosftp")
        for _ in range(600):
            status = await c.status(run["id"])
            if status["status"] != "running":
                break
            await asyncio.sleep(0.1)
        assert status["status"] == "exited" and status["exit_code"] == 0
        points = await c.all_metrics(run["id"])
        assert [(p["step"], p["value"]) for p in points] == [
            (1, 1.0),
            (2, 0.5),
            (3, 0.333),
            (4, 0.25),
            (5, 0.2),
        ]
    # What landed on the node: exactly our zipapp, private, and no temporary file left over.
    agent = os.path.join(no_agent_yet, f"agent-{build_hash()}.pyz")
    with open(agent, "rb") as fh:
        assert fh.read() == zipapp_bytes()[1]
    assert stat.S_IMODE(os.stat(agent).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(no_agent_yet).st_mode) == 0o700
    assert os.stat(agent).st_uid == os.stat(lab.home).st_uid
    assert os.listdir(no_agent_yet) == [os.path.basename(agent)]


async def test_a_failed_upload_says_why_and_what_to_do(
    lab: SshLab, node_state: str, no_agent_yet: str
) -> None:
    # A cache directory the node's user cannot write (root's, 0755).
    os.makedirs(no_agent_yet)
    os.chmod(no_agent_yet, 0o755)
    with pytest.raises(TransportError) as err:
        await client(lab, node_state).connect()
    message = str(err.value)
    assert "cannot upload the agent to node" in message
    assert "not permitted" in message or "Permission denied" in message
    assert no_agent_yet.split("/")[-1] in message and "SFTP" in message
    assert "Session request failed" in message  # why the exec channel was taken
    assert "own and can write" in err.value.hint
    assert "free space" not in err.value.hint
    assert not glob.glob(os.path.join(no_agent_yet, "*"))


def tree_hashes(root: str) -> dict[str, str]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as fh:
                out[os.path.relpath(os.path.join(dirpath, name), root)] = sha(fh.read())
    return out


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_push_and_pull_a_directory_without_sftp(lab: SshLab, workdir: str) -> None:
    src = os.path.join(workdir, "model")
    os.makedirs(os.path.join(src, "ema"))
    blobs = {"weights.bin": os.urandom(20 << 20), "ema/w.bin": os.urandom(300_000), "c.json": b"{}"}
    for rel, data in blobs.items():
        with open(os.path.join(src, rel), "wb") as fh:
            fh.write(data)
    remote = f"/tmp/rdt-nosftp-tx-{uuid.uuid4().hex[:8]}"
    os.makedirs(os.path.join(remote, "model"))
    account = pwd.getpwnam(lab.user)
    for d in (remote, os.path.join(remote, "model")):
        os.chown(d, account.pw_uid, account.pw_gid)
    # An interrupted earlier push left the first MiB of the big file: it is resumed.
    part = os.path.join(remote, "model", "weights.bin" + PART)
    with open(part, "wb") as fh:
        fh.write(blobs["weights.bin"][: 1 << 20])
    os.chown(part, account.pw_uid, account.pw_gid)
    transport = SshTransport("node", hops(lab), python=NODE_PYTHON, connect_timeout=10)
    try:
        pushed = await transport.transfer(True, src, f"{remote}/model", False, lambda p: None)
        assert pushed.files == 3 and pushed.resumed_bytes == 1 << 20
        assert tree_hashes(f"{remote}/model") == tree_hashes(src)
        assert os.stat(f"{remote}/model/weights.bin").st_uid == account.pw_uid
        back = os.path.join(workdir, "back")
        pulled = await transport.transfer(False, back, f"{remote}/model", False, lambda p: None)
        assert pulled.files == 3 and tree_hashes(back) == tree_hashes(src)
        again = await transport.transfer(False, back, f"{remote}/model", False, lambda p: None)
        assert again.skipped == 3 and again.files == 0
        # A bare name on the node is relative to its user's home.
        name = f"rdt-nosftp-{uuid.uuid4().hex[:8]}.json"
        try:
            await transport.transfer(True, f"{src}/c.json", name, False, lambda p: None)
            with open(os.path.join(lab.home, name), "rb") as fh:
                assert fh.read() == b"{}"
        finally:
            os.unlink(os.path.join(lab.home, name))
        # A part file on the node that the node's user did not make is not resumed into.
        shared = f"{remote}/shared"
        os.mkdir(shared, 0o1777)
        os.chmod(shared, 0o1777)
        victim = f"{remote}/victim"
        with open(victim, "wb") as fh:
            fh.write(b"precious")
        os.chmod(victim, 0o666)
        os.symlink(victim, f"{shared}/c.json{PART}")
        with pytest.raises(TransferError) as err:
            await transport.transfer(True, f"{src}/c.json", shared, False, lambda p: None)
        assert "symbolic link" in err.value.message
        with open(victim, "rb") as fh:
            assert fh.read() == b"precious"
        # Nor one another user left there with the right first bytes, writable by all.
        foreign = f"{shared}/weights.bin{PART}"
        with open(foreign, "wb") as fh:
            fh.write(blobs["weights.bin"][:1000])
        os.chmod(foreign, 0o666)
        with pytest.raises(TransferError) as err:
            await transport.transfer(True, f"{src}/weights.bin", shared, False, lambda p: None)
        assert "not left by you" in err.value.message and foreign in err.value.message
        assert not os.path.exists(f"{shared}/weights.bin")
        assert os.path.getsize(foreign) == 1000
    finally:
        await transport.close()
        shutil.rmtree(remote, ignore_errors=True)
