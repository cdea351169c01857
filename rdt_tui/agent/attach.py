"""``attach``: relay this process's stdin/stdout to the daemon's socket, starting it if needed.

This is what the console runs over an SSH exec channel (or as a local subprocess). It checks
the daemon's build against its own first: a daemon from an older upload is asked to exit and a
current one is started. Runs are unaffected, since they live under their shims, not the daemon.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from typing import List, Optional, Tuple

from ..protocol import wire
from .build import build_hash
from .daemon import socket_path
from .files import ensure_private_dir
from .procs import clean_env

START_TIMEOUT_S = 15.0


def self_command() -> List[str]:
    """argv that runs this agent again: the zipapp when we came from one, else ``-m``."""
    flags = []
    if sys.flags.isolated:
        flags.append("-I")
    if sys.flags.no_site:
        flags.append("-S")
    loader = globals().get("__loader__")
    archive = getattr(loader, "archive", None)
    if archive:
        return [sys.executable, *flags, archive]
    return [sys.executable, *flags, "-m", "rdt_tui.agent"]


def _connect(path: str) -> Optional[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    return sock


def spawn_daemon(root: str, simulate_gpus: int) -> None:
    log = os.open(os.path.join(root, "agent.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        cmd = [*self_command(), "daemon", "--simulate-gpus", str(simulate_gpus)]
        subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            cwd=root,
            env=clean_env(),  # a daemon started from inside a run must not carry its marker
        )
    finally:
        os.close(log)


def _ask_hello(sock: socket.socket) -> Tuple[Optional[dict], bytes]:
    """The daemon's hello, and any bytes that followed it on the socket."""
    sock.sendall(wire.encode(wire.request("attach-hello", "hello")))
    buf = b""
    sock.settimeout(10.0)
    try:
        while True:
            nl = buf.find(b"\n")
            while nl >= 0:
                line, buf = buf[: nl + 1], buf[nl + 1 :]
                msg = wire.decode_line(line)
                if msg is not None and msg.get("id") == "attach-hello":
                    return (msg.get("result") if msg.get("ok") else None), buf
                nl = buf.find(b"\n")
            chunk = sock.recv(65536)
            if not chunk:
                return None, b""
            buf += chunk
    except OSError:
        return None, b""
    finally:
        sock.settimeout(None)


def _wait_gone(sock: socket.socket) -> None:
    sock.settimeout(5.0)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass
    sock.close()


def connect_current(root: str, simulate_gpus: int) -> Tuple[socket.socket, bytes]:
    """A connection to a daemon of this very build, started (or restarted) when needed."""
    path = socket_path(root)
    mine = build_hash()
    deadline = time.monotonic() + START_TIMEOUT_S
    spawned = False
    while time.monotonic() < deadline:
        sock = _connect(path)
        if sock is None:
            if not spawned:
                spawn_daemon(root, simulate_gpus)
                spawned = True
            time.sleep(0.05)
            continue
        hello, rest = _ask_hello(sock)
        if (
            hello is not None
            and hello.get("build") == mine
            and int(hello.get("simulated_gpus") or 0) == simulate_gpus
        ):
            return sock, rest
        # Another build (or GPU simulation setting): ask it to leave, then start ours.
        try:
            sock.sendall(wire.encode(wire.request("attach-bye", "shutdown")))
        except OSError:
            pass
        _wait_gone(sock)
        spawned = False
    raise SystemExit(
        "rdt-tui agent: the daemon did not start within {:.0f}s; see {}".format(
            START_TIMEOUT_S, os.path.join(root, "agent.log")
        )
    )


def relay(sock: socket.socket, rest: bytes) -> int:
    """Copy stdin to the socket and the socket to stdout until the daemon closes."""
    out = sys.stdout.buffer
    if rest:
        out.write(rest)
        out.flush()

    def pump_in() -> None:
        try:
            while True:
                data = os.read(0, 65536)
                if not data:
                    break
                sock.sendall(data)
        except OSError:
            pass
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=pump_in, daemon=True).start()
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            out.write(data)
            out.flush()
    except (OSError, BrokenPipeError):
        pass
    return 0


def run_attach(root: str, simulate_gpus: int = 0) -> int:
    ensure_private_dir(root)
    sock, rest = connect_current(root, simulate_gpus)
    return relay(sock, rest)
