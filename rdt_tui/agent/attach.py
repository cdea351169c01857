"""``attach``: relay this process's stdin/stdout to the daemon's socket, starting it if needed.

This is what the console runs over an SSH exec channel (or as a local subprocess). It checks
the daemon's build against its own first: a daemon from an older upload is asked to exit and a
current one is started. Runs are unaffected, since they live under their shims, not the daemon.

Before it connects, it checks that the state directory and the socket belong to this user
(and the daemon at the other end too, by its peer credentials): in a shared place such as
/tmp another user could have made them first, and would then hear everything we send.
"""

import os
import pwd
import select
import socket
import stat
import subprocess
import sys
import threading
import time
from typing import List, Optional, Tuple

from ..protocol import wire
from .build import build_hash
from .files import ensure_private_dir
from .peer import peer_uid, socket_path
from .procs import clean_env

START_TIMEOUT_S = 15.0
REFUSAL_WAIT_S = 30.0


class UnsafeState(Exception):
    """The state directory or the daemon is not this user's: message and hint."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _owner(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def check_state_dir(root: str) -> None:
    """Refuse a state directory that exists and is not a directory of ours."""
    try:
        st = os.stat(root)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UnsafeState(
            f"cannot use the agent's state directory {root}: {exc.strerror}",
            "choose another with --state-dir (state_dir in hosts.toml)",
        ) from None
    if st.st_uid != os.getuid():
        owner, me = _owner(st.st_uid), _owner(os.getuid())
        raise UnsafeState(
            f"the agent's state directory {root} belongs to {owner}, not to you, {me}: "
            "another user may have made it to listen in",
            "if it is stale, its owner or an admin can remove it; or choose another with "
            "--state-dir (state_dir in hosts.toml)",
        )
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeState(
            f"the agent's state directory {root} is not a directory",
            "remove it, or choose another with --state-dir (state_dir in hosts.toml)",
        )


def check_socket(path: str) -> None:
    """Refuse a daemon socket that is not a socket of ours, private to us."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise UnsafeState(
            f"the agent's socket {path} is not a private socket of yours "
            f"(owner {_owner(st.st_uid)}, mode {stat.S_IMODE(st.st_mode):o})",
            "stop whatever serves it, remove it, then connect again",
        )


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
    check_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    uid = peer_uid(sock)
    if uid != os.getuid():
        sock.close()
        raise UnsafeState(
            "the daemon behind {} runs as {}, not as you".format(
                path, "an unknown user" if uid is None else _owner(uid)
            ),
            "stop it, remove the socket, then connect again",
        )
    return sock


def spawn_daemon(root: str, simulate_gpus: int) -> "subprocess.Popen[bytes]":
    log = os.open(os.path.join(root, "agent.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        cmd = [*self_command(), "daemon", "--simulate-gpus", str(simulate_gpus)]
        return subprocess.Popen(
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


def keeps(hello: dict, simulate_gpus: int) -> bool:
    """Whether a daemon of our build serves this request as it is. A different GPU simulation
    setting replaces it only while it watches no live run: a daemon that runs jobs stays (the
    client sees its real setting in ``hello``)."""
    if int(hello.get("simulated_gpus") or 0) == simulate_gpus:
        return True
    return int(hello.get("live_runs") or 0) > 0


def connect_current(root: str, simulate_gpus: int) -> Tuple[socket.socket, bytes]:
    """A connection to a daemon of this very build, started (or restarted) when needed."""
    path = socket_path(root)
    mine = build_hash()
    deadline = time.monotonic() + START_TIMEOUT_S
    spawned: Optional[subprocess.Popen[bytes]] = None
    while time.monotonic() < deadline:
        sock = _connect(path)
        if sock is None:
            if spawned is not None and spawned.poll() == 0:
                # It found the lock still held (the daemon we asked to leave is finishing):
                # try again rather than wait out the deadline for nothing. One that crashed
                # (non-zero) is not retried: its reason is in agent.log.
                spawned = None
                time.sleep(0.2)
            if spawned is None:
                spawned = spawn_daemon(root, simulate_gpus)
            time.sleep(0.05)
            continue
        hello, rest = _ask_hello(sock)
        if hello is not None and hello.get("build") == mine and keeps(hello, simulate_gpus):
            return sock, rest
        # Another build (or GPU simulation setting): ask it to leave, then start ours.
        try:
            sock.sendall(wire.encode(wire.request("attach-bye", "shutdown")))
        except OSError:
            pass
        _wait_gone(sock)
        spawned = None
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
    try:
        check_state_dir(root)
        try:
            ensure_private_dir(root)
        except OSError as exc:
            raise UnsafeState(
                f"cannot make the agent's state directory {root}: {exc.strerror}",
                "choose another with --state-dir (state_dir in hosts.toml)",
            ) from None
        check_state_dir(root)  # made by someone else between the check and makedirs?
        sock, rest = connect_current(root, simulate_gpus)
    except UnsafeState as exc:
        return refuse("unsafe_state_dir", exc.message, exc.hint)
    return relay(sock, rest)


def refuse(code: str, message: str, hint: str) -> int:
    """Say why on stderr, and answer the console's first request with it, so the console
    shows the reason instead of a dropped connection."""
    sys.stderr.write(f"rdt-tui agent: {message} ({hint})\n")
    sys.stderr.flush()
    buf = b""
    deadline = time.monotonic() + REFUSAL_WAIT_S
    while b"\n" not in buf and time.monotonic() < deadline:
        ready, _, _ = select.select([0], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(0, 65536)
        if not chunk:
            break
        buf += chunk
    msg = wire.decode_line(buf.split(b"\n", 1)[0] + b"\n") if buf else None
    if msg is not None:
        out = sys.stdout.buffer
        out.write(wire.encode(wire.reply_error(msg.get("id"), code, message, hint)))
        out.flush()
    return 1
