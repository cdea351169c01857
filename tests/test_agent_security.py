"""The agent's socket: 0600 in a 0700 directory, peer uid checked, and no TCP port at all."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from .conftest import Agent

pytestmark = pytest.mark.asyncio

# Runs as uid 65534: reads what the daemon says, then tries a request anyway.
OTHER_USER_CLIENT = r"""
import os, socket, sys
os.setgid(65534)
os.setuid(65534)
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
data = b""
while True:  # the daemon speaks first to a stranger: an error, then it hangs up
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
try:
    s.sendall(b'{"id":"1","op":"runs","args":{}}\n')
    answer = s.recv(65536)
except OSError:
    answer = b""
print(data.decode(), answer.decode())
"""


def listening_inodes() -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                rows = fh.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A":  # TCP_LISTEN
                inodes.add(fields[9])
    return inodes


def socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[len("socket:[") : -1])
    return found


async def test_socket_modes_and_no_tcp_listener(agent: Agent) -> None:
    c = await agent.client()
    pid = int(c.info["pid"])
    assert stat.S_IMODE(os.stat(agent.state_dir).st_mode) == 0o700
    sock = os.path.join(agent.state_dir, "agent.sock")
    assert stat.S_ISSOCK(os.stat(sock).st_mode)
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    assert socket_inodes(pid), "the daemon should hold its Unix socket"
    assert socket_inodes(pid) & listening_inodes() == set()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
async def test_a_connection_from_another_uid_is_refused(agent: Agent) -> None:
    await agent.client()
    sock = os.path.join(agent.state_dir, "agent.sock")
    # Open the file modes so that only the peer-credential check stands in the way.
    os.chmod(agent.state_dir, 0o755)
    os.chmod(sock, 0o666)
    code = OTHER_USER_CLIENT
    out = subprocess.run(
        [sys.executable, "-c", code, sock], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert "permission_denied" in out.stdout
    assert '"ok":true' not in out.stdout
