"""The agent's ``attach`` never uses a state directory, socket or daemon that belongs to
another user: run as an unprivileged user (the lab's) from the real zipapp, against a directory
or a listening socket that root made first. Each refusal reaches the console as the reply to
its first request, never as a traceback.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from rdt_tui.agent.build import build_hash, zipapp_bytes
from rdt_tui.protocol import wire

from .sshd import ensure_user

NODE_PYTHON = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(NODE_PYTHON),
    reason="needs root (a second user, chown) and /usr/bin/python3",
)


@pytest.fixture
def other_user() -> Any:
    return ensure_user()


@pytest.fixture
def agent_zipapp() -> Iterator[str]:
    """The agent as the node runs it, where an unprivileged user can read it."""
    root = tempfile.mkdtemp(prefix="rdt-zipapp-", dir="/tmp")
    os.chmod(root, 0o755)
    path = os.path.join(root, "agent.pyz")
    with open(path, "wb") as fh:
        fh.write(zipapp_bytes()[1])
    os.chmod(path, 0o644)
    yield path
    shutil.rmtree(root, ignore_errors=True)


def attach_as(user: str, zipapp: str, state: str) -> subprocess.CompletedProcess[str]:
    hello = wire.encode(wire.request("1", "hello")).decode()
    return subprocess.run(
        ["runuser", "-u", user, "--", NODE_PYTHON, zipapp, "--state-dir", state, "attach"],
        input=hello,
        capture_output=True,
        text=True,
        timeout=60,
    )


def refusal(out: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    replies = [wire.decode_line(line.encode() + b"\n") for line in out.stdout.splitlines()]
    assert replies and replies[0] is not None, out
    assert replies[0]["id"] == "1" and replies[0]["ok"] is False
    return dict(replies[0]["error"])


@pytest.mark.parametrize("mode", [0o755, 0o1777, 0o700], ids=["0755", "1777", "0700"])
def test_attach_refuses_a_state_dir_made_by_another_user(
    agent_zipapp: str, other_user: Any, mode: int
) -> None:
    state = f"/tmp/rdt-foreign-{uuid.uuid4().hex[:8]}"
    os.mkdir(state)
    os.chmod(state, mode)  # root's, the way another user would leave it
    try:
        out = attach_as(other_user.pw_name, agent_zipapp, state)
        assert out.returncode != 0
        assert "Traceback" not in out.stderr, out.stderr
        error = refusal(out)
        assert error["code"] == "unsafe_state_dir"
        assert state in error["message"] and "root (uid 0)" in error["message"]
        assert "--state-dir" in error["hint"]
        assert state in out.stderr
        assert os.listdir(state) == []  # no socket, no log, nothing left in someone else's dir
    finally:
        shutil.rmtree(state, ignore_errors=True)


class ForeignDaemon:
    """Another user's (root's) server on the socket path, answering hello like our daemon."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.heard: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(5)
            try:
                data = conn.recv(65536)
                self.heard.append(data)
                reply = {"build": build_hash(), "simulated_gpus": 0, "protocol": 1}
                conn.sendall(wire.encode(wire.reply_ok("attach-hello", reply)))
                self.heard.append(conn.recv(65536))
            except OSError:
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("disguised", [False, True], ids=["root-socket", "chowned-socket"])
def test_attach_never_talks_to_another_users_daemon(
    agent_zipapp: str, other_user: Any, disguised: bool
) -> None:
    state = f"/tmp/rdt-mine-{uuid.uuid4().hex[:8]}"
    os.mkdir(state, 0o700)
    os.chown(state, other_user.pw_uid, other_user.pw_gid)  # the test user's own dir
    path = os.path.join(state, "agent.sock")
    daemon = ForeignDaemon(path)
    if disguised:  # root can make the socket look like the user's: the peer's uid tells
        os.chown(path, other_user.pw_uid, other_user.pw_gid)
        os.chmod(path, 0o600)
    else:
        os.chmod(path, 0o777)
    try:
        out = attach_as(other_user.pw_name, agent_zipapp, state)
        assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
        error = refusal(out)
        assert error["code"] == "unsafe_state_dir" and path in error["message"]
        assert "root (uid 0)" in error["message"]
        assert not any(b'"op": "hello"' in h or b'"op":"hello"' in h for h in daemon.heard)
    finally:
        daemon.close()
        shutil.rmtree(state, ignore_errors=True)
