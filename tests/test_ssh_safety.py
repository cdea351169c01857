"""The safety rules through real OpenSSH (the two-sshd lab): a foreign state directory on the
node, `rdt-tui trust` with HashKnownHosts, a symlinked known_hosts and a device as known_hosts,
part files planted on either machine, and transfers to a bare name in the node's home.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator

import pytest

from rdt_tui.client import AgentCallError
from rdt_tui.transport.base import TransportError
from rdt_tui.transport.ssh import SshTransport
from rdt_tui.transport.transfer import PART, Progress, TransferError

from .sshd import LAB_MARKS, NODE_PYTHON, SshLab, ensure_user, remove_lab, start_lab
from .test_ssh import cli, client, hops, write_cli_hosts
from .test_transport_safety import keygen_finds

pytestmark = LAB_MARKS


def noop(_p: Progress) -> None:
    pass


@pytest.fixture
def shared_dir() -> Iterator[str]:
    """A world-writable sticky directory, like /tmp or a group's scratch space."""
    path = tempfile.mkdtemp(prefix="rdt-shared-", dir="/tmp")
    os.chmod(path, 0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def lab() -> Iterator[SshLab]:
    lab = start_lab()
    yield lab
    remove_lab(lab)


@pytest.fixture
def node_state(lab: SshLab) -> Iterator[str]:
    path = f"/tmp/rdt-node-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_a_foreign_state_dir_on_the_node_is_a_clear_error(lab: SshLab) -> None:
    lab.trust_both()
    state = f"/tmp/rdt-foreign-{uuid.uuid4().hex[:8]}"
    os.mkdir(state)
    os.chmod(state, 0o1777)
    try:
        with pytest.raises(AgentCallError) as err:
            await asyncio.wait_for(client(lab, state).connect(), 60)
        assert err.value.code == "unsafe_state_dir"
        assert state in err.value.message and "root (uid 0)" in err.value.message
        assert "--state-dir" in err.value.hint
        write_cli_hosts(lab, state)
        checked = cli(lab, "check-host", "node")
        assert checked.returncode != 0 and "Traceback" not in checked.stderr
        assert state in checked.stderr and "root (uid 0)" in checked.stderr
        assert os.listdir(state) == []
    finally:
        shutil.rmtree(state, ignore_errors=True)


def lab_config(lab: SshLab, known_hosts: str, head: str = "") -> str:
    """The lab's client config with another UserKnownHostsFile (and options before any Host)."""
    with open(lab.ssh_config) as fh:
        text = fh.read().replace(
            f"UserKnownHostsFile {lab.known_hosts}", f"UserKnownHostsFile {known_hosts}"
        )
    path = os.path.join(lab.root, f"ssh_config-{uuid.uuid4().hex[:6]}")
    with open(path, "w") as fh:
        fh.write(head + text)
    return path


def cli_with(config: str, lab: SshLab, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ, RDT_TUI_SSH_CONFIG=config, RDT_TUI_CONFIG_DIR=os.path.join(lab.root, "cfg")
    )
    return subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_cli_trust_hashes_names_and_keeps_a_symlinked_known_hosts(
    lab: SshLab, workdir: str, node_state: str
) -> None:
    target = os.path.join(workdir, "dotfiles", "known_hosts")
    os.makedirs(os.path.dirname(target))
    link = os.path.join(workdir, "known_hosts")
    os.symlink(target, link)
    config = lab_config(lab, link, head="HashKnownHosts yes\n")
    trusted = cli_with(config, lab, "trust", "node", "--yes")
    assert trusted.returncode == 0, trusted.stderr
    assert os.path.islink(link) and os.path.isfile(target)
    with open(target) as fh:
        text = fh.read()
    assert "127.0.0.1" not in text and "gpu-node" not in text and text.count("|1|") == 2
    assert keygen_finds(f"[127.0.0.1]:{lab.jump.port}", target)
    assert keygen_finds(f"[gpu-node.internal]:{lab.node.port}", target)
    write_cli_hosts(lab, node_state)
    checked = cli_with(config, lab, "check-host", "node", "--json")
    assert checked.returncode == 0, checked.stderr
    again = cli_with(config, lab, "trust", "node")
    assert again.stdout.count("already trusted") == 2, again.stdout + again.stderr


def test_cli_trust_with_a_device_as_known_hosts_is_refused(lab: SshLab, workdir: str) -> None:
    dev_null = os.path.join(workdir, "null")
    os.mknod(dev_null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    config = lab_config(lab, dev_null)
    refused = cli_with(config, lab, "trust", "node", "--yes")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "not a regular file" in refused.stderr and dev_null in refused.stderr
    assert stat.S_ISCHR(os.lstat(dev_null).st_mode)


def test_cli_pull_into_a_planted_part_symlink_fails_and_says_so(
    lab: SshLab, workdir: str, node_state: str, shared_dir: str
) -> None:
    lab.trust_both()
    write_cli_hosts(lab, node_state)
    remote = f"/tmp/rdt-pull-{uuid.uuid4().hex[:8]}.bin"
    with open(remote, "wb") as fh:
        fh.write(os.urandom(200_000))
    shutil.chown(remote, lab.user)
    victim = os.path.join(workdir, "victim")
    with open(victim, "wb") as fh:
        fh.write(b"precious")
    dest = os.path.join(shared_dir, "model.bin")
    os.symlink(victim, dest + PART)
    os.lchown(dest + PART, *(lambda u: (u.pw_uid, u.pw_gid))(ensure_user()))
    try:
        pulled = cli(lab, "pull", "node", remote, dest)
        assert pulled.returncode != 0, pulled.stdout
        assert "hashes match" not in pulled.stdout
        assert "symbolic link" in pulled.stderr and "Traceback" not in pulled.stderr
        with open(victim, "rb") as fh:
            assert fh.read() == b"precious"
    finally:
        os.unlink(remote)


@pytest.mark.parametrize("planted", ["symlink", "foreign-file"])
async def test_push_over_sftp_refuses_a_part_planted_on_the_node(
    lab: SshLab, workdir: str, planted: str
) -> None:
    lab.trust_both()
    src = os.path.join(workdir, "c.bin")
    data = os.urandom(50_000)
    with open(src, "wb") as fh:
        fh.write(data)
    shared = f"/tmp/rdt-node-shared-{uuid.uuid4().hex[:8]}"
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    victim = os.path.join(shared, "victim")
    with open(victim, "wb") as fh:
        fh.write(b"precious")
    os.chmod(victim, 0o666)
    part = os.path.join(shared, "c.bin" + PART)
    if planted == "symlink":
        os.symlink(victim, part)
    else:  # root's file with the right first bytes, writable by all
        with open(part, "wb") as fh:
            fh.write(data[:1000])
        os.chmod(part, 0o666)
    transport = SshTransport("node", hops(lab), python=NODE_PYTHON, connect_timeout=10)
    try:
        with pytest.raises(TransferError) as err:
            await transport.transfer(True, src, shared, False, noop)
        assert part in err.value.message
        with open(victim, "rb") as fh:
            assert fh.read() == b"precious"
        assert not os.path.exists(os.path.join(shared, "c.bin"))
    finally:
        await transport.close()
        shutil.rmtree(shared, ignore_errors=True)


async def test_push_over_sftp_to_a_bare_name_in_the_node_home(lab: SshLab, workdir: str) -> None:
    lab.trust_both()
    src = os.path.join(workdir, "c.json")
    with open(src, "wb") as fh:
        fh.write(b"{}")
    name = f"rdt-bare-{uuid.uuid4().hex[:8]}.json"
    transport = SshTransport("node", hops(lab), python=NODE_PYTHON, connect_timeout=10)
    try:
        pushed = await transport.transfer(True, src, name, False, noop)
        assert pushed.files == 1
        with open(os.path.join(lab.home, name), "rb") as fh:
            assert fh.read() == b"{}"
    finally:
        await transport.close()
        if os.path.exists(os.path.join(lab.home, name)):
            os.unlink(os.path.join(lab.home, name))


async def test_a_failed_upload_over_sftp_names_the_cause(lab: SshLab, node_state: str) -> None:
    lab.trust_both()
    cache = os.path.join(lab.home, ".cache", "rdt-tui")
    shutil.rmtree(cache, ignore_errors=True)
    os.makedirs(cache)
    os.chmod(cache, 0o755)  # root's: the node's user cannot write the agent there
    try:
        with pytest.raises(TransportError) as err:
            await client(lab, node_state).connect()
        assert "cannot upload the agent to node" in err.value.message
        assert "not permitted" in err.value.message or "denied" in err.value.message
        assert "own and can write" in err.value.hint
        assert os.listdir(cache) == []
    finally:
        shutil.rmtree(cache, ignore_errors=True)
