"""Fixtures that start real agents: each test gets its own state directory and daemon."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from rdt_tui.agent.procs import marked_processes
from rdt_tui.agent.runs import RunStore
from rdt_tui.client import AgentClient
from rdt_tui.protocol.messages import RunSummary
from rdt_tui.transport.local import LocalTransport


@pytest.fixture(autouse=True)
def own_user_dirs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own empty user config, data and state directories (the variables
    config/paths.py and agent/files.py read), so nothing in the developer's own (an extra
    profile, settings, a demo dataset, a running agent) changes a test. A test that needs
    other ones sets the variables itself."""
    root = tempfile.mkdtemp(prefix="rdt-u-", dir="/tmp")  # short: the state dir holds a socket
    for name, sub in (
        ("RDT_TUI_CONFIG_DIR", "config"),
        ("RDT_TUI_DATA_DIR", "data"),
        ("RDT_TUI_STATE_DIR", "state"),
    ):
        monkeypatch.setenv(name, os.path.join(root, sub))
    yield
    _stop_daemon(os.path.join(root, "state"))  # one a subprocess started on the default
    _kill_runs_of(os.path.join(root, "state"))
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def state_dir() -> Iterator[str]:
    # Short path under /tmp: a Unix socket path must fit in 108 bytes.
    path = tempfile.mkdtemp(prefix="rdt-", dir="/tmp")
    yield path
    _stop_daemon(path)
    _kill_runs_of(path)
    shutil.rmtree(path, ignore_errors=True)


def _stop_daemon(path: str) -> None:
    """SIGTERM the agent daemon of the state directory ``path``: the one its agent.pid names,
    and any other agent process holding a file in it (a daemon a console's attach started as
    the test ended writes its pid file after the test read it, and was left running)."""
    pids = set()
    try:
        with open(os.path.join(path, "agent.pid")) as fh:
            pids.add(int(fh.read().strip()))
    except (OSError, ValueError):
        pass
    if os.path.exists(os.path.join(path, "agent.lock")):
        pids.update(_agents_holding(path))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


def _agents_holding(path: str) -> set[int]:
    """Pids of rdt-tui agent processes (the package or its zipapp) with their working
    directory or an open file under ``path``."""
    prefix = os.path.realpath(path) + os.sep
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                argv = fh.read()
            if b"rdt_tui.agent" not in argv and b".pyz" not in argv:
                continue
            fds = [f"/proc/{name}/fd/{fd}" for fd in os.listdir(f"/proc/{name}/fd")]
            links = [os.readlink(p) for p in [f"/proc/{name}/cwd", *fds]]
        except OSError:
            continue  # gone, or not ours to read
        if any(link.startswith(prefix) or link == prefix[:-1] for link in links):
            found.add(int(name))
    return found


def _kill_runs_of(path: str) -> None:
    runs = os.path.join(path, "runs")
    if not os.path.isdir(runs):
        return
    ids = os.listdir(runs)
    found = {p for pids in marked_processes(ids).values() for p in pids}
    store = RunStore(path)
    for run_id in ids:  # also what escaped the marker: the tree, session, group and cgroup
        found.update(store.members(run_id))
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def kill_run(run_id: str) -> None:
    """A node's rank dies (the OOM killer, a crash): SIGKILL to every process of the run,
    found by its marker. Not a stop: no one asked for it, so the agent records a death."""
    for pid in marked_processes([run_id]).get(run_id, []):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.fixture
def workdir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="rdt-work-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Agent:
    """Open real clients on one state directory (each is a real ``attach`` process)."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        self.clients: list[AgentClient] = []

    async def client(self, simulate_gpus: int = 0) -> AgentClient:
        c = AgentClient(LocalTransport(self.state_dir, simulate_gpus))
        await c.connect()
        self.clients.append(c)
        return c

    async def close_all(self) -> None:
        for c in self.clients:
            await c.close()

    def daemon_pid(self) -> int:
        with open(os.path.join(self.state_dir, "agent.pid")) as fh:
            return int(fh.read().strip())


@pytest.fixture
async def agent(state_dir: str) -> AsyncIterator[Agent]:
    a = Agent(state_dir)
    yield a
    await a.close_all()


async def wait_status(
    client: AgentClient, run: str, want: set[str], timeout: float = 60
) -> RunSummary:
    deadline = time.monotonic() + timeout
    while True:
        s = await client.status(run)
        if s["status"] in want:
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run} still {s['status']} after {timeout}s: {s}")
        await asyncio.sleep(0.1)


def wait_until(predicate: Any, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def script(workdir: str, name: str, body: str) -> str:
    """Write a job script (body dedented) into workdir; return its path."""
    path = os.path.join(workdir, name)
    with open(path, "w") as fh:
        fh.write(textwrap.dedent(body))
    return path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Agents the tests started whose state directory is gone by now (a console's attach that
    started one as its test ended): SIGTERM, so a test run leaves no daemon behind."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                argv = fh.read()
            cwd = os.readlink(f"/proc/{name}/cwd")
        except OSError:
            continue
        ours = b"rdt_tui.agent" in argv or b".pyz" in argv
        if ours and cwd.startswith("/tmp/rdt-") and cwd.endswith(" (deleted)"):
            try:
                os.kill(int(name), signal.SIGTERM)
            except OSError:
                pass
