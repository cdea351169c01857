"""Routes from ssh_config through the two-sshd lab: a ProxyCommand that is a jump, one that
is run as the transport, and ``check-host`` printing the route it took."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from rdt_tui.client import AgentClient
from rdt_tui.config.hosts import HostBook
from rdt_tui.config.sshconfig import load_ssh_config
from rdt_tui.transport.errors import HostKeyUnknown
from rdt_tui.transport.ssh import SshTransport

from .sshd import LAB_MARKS, NODE_NAME, NODE_PYTHON, SshLab, remove_lab, start_lab

pytestmark = LAB_MARKS

# A TCP relay on stdin/stdout: the kind of program a ProxyCommand runs (no nc on CI).
RELAY = """\
import os, socket, sys, threading
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
def up():
    while True:
        b = os.read(0, 65536)
        if not b:
            s.shutdown(socket.SHUT_WR)
            return
        s.sendall(b)
threading.Thread(target=up, daemon=True).start()
while True:
    b = s.recv(65536)
    if not b:
        break
    os.write(1, b)
"""

EXTRA = """
Host node-pc
    HostName {node_name}
    Port {node_port}
    User {user}
    IdentityFile {key}
    UserKnownHostsFile {known_hosts}
    ProxyCommand ssh -W %h:%p jump

Host node-relay
    HostName {node_name}
    Port {node_port}
    User {user}
    IdentityFile {key}
    UserKnownHostsFile {known_hosts}
    ProxyCommand {python} {relay} 127.0.0.1 %p
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[SshLab]:
    lab = start_lab()
    relay = os.path.join(lab.root, "relay.py")
    with open(relay, "w") as fh:
        fh.write(RELAY)
    with open(lab.ssh_config, "a") as fh:
        fh.write(
            EXTRA.format(
                node_name=NODE_NAME,
                node_port=lab.node.port,
                user=lab.user,
                key=lab.client_key,
                known_hosts=lab.known_hosts,
                python=NODE_PYTHON,
                relay=relay,
            )
        )
    yield lab
    remove_lab(lab)


@pytest.fixture
def node_state(lab: SshLab) -> str:
    return f"/tmp/rdt-node-{uuid.uuid4().hex[:8]}"


async def hello(lab: SshLab, host: str, state: str) -> dict:
    hops = HostBook(load_ssh_config(lab.ssh_config), []).chain(host)
    c = AgentClient(
        SshTransport(host, hops, python=NODE_PYTHON, state_dir=state, connect_timeout=10)
    )
    await c.connect()
    try:
        return dict(c.info)
    finally:
        await c.close()


def test_a_proxycommand_ssh_w_is_a_jump_we_open_ourselves(lab: SshLab, node_state: str) -> None:
    hops = HostBook(load_ssh_config(lab.ssh_config), []).chain("node-pc")
    assert [h.label for h in hops] == ["jump", "node-pc"]
    assert all(h.proxy_command is None for h in hops)
    info = asyncio.run(hello(lab, "node-pc", node_state))
    assert info["state_dir"] == node_state


def test_another_proxycommand_runs_as_the_transport_and_keys_are_still_checked(
    lab: SshLab, node_state: str
) -> None:
    hops = HostBook(load_ssh_config(lab.ssh_config), []).chain("node-relay")
    assert len(hops) == 1 and hops[0].proxy_command is not None
    assert hops[0].proxy_command.endswith(f"127.0.0.1 {lab.node.port}")
    info = asyncio.run(hello(lab, "node-relay", node_state))
    assert info["state_dir"] == node_state
    lab.write_known_hosts([])  # through a proxy the node's key is verified all the same
    try:
        with pytest.raises(HostKeyUnknown) as err:
            asyncio.run(hello(lab, "node-relay", node_state))
        assert "SHA256:" in err.value.message
    finally:
        lab.trust_both()


def test_check_host_prints_the_route_it_took(lab: SshLab, node_state: str) -> None:
    cfg = os.path.join(lab.root, "route-cfg")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, "hosts.toml"), "w") as fh:
        fh.write(
            f'[[hosts]]\nname = "node"\npython = "{NODE_PYTHON}"\nstate_dir = "{node_state}"\n'
        )
    env = dict(os.environ, RDT_TUI_SSH_CONFIG=lab.ssh_config, RDT_TUI_CONFIG_DIR=cfg)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rdt_tui.cli", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )

    text = cli("check-host", "node")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    route = [ln for ln in lines if ln.strip().startswith(("route", "2."))]
    assert f"1. jump  {lab.user}@127.0.0.1:{lab.jump.port}" in route[0]
    assert f"2. node  {lab.user}@{NODE_NAME}:{lab.node.port}" in route[1]
    report = json.loads(cli("check-host", "node", "--json").stdout)
    assert [h["label"] for h in report["route"]] == ["jump", "node"]
    assert report["route"][0]["identity_files"] == [lab.client_key]
