"""Nothing a client or a job does takes the daemon down: every request is answered, a client
that never reads is cut off, a watcher survives running out of descriptors, every client wait
has a bound, and a GPU simulation setting never replaces a daemon that runs jobs."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from rdt_tui.agent.daemon import socket_path
from rdt_tui.client.agent_client import AgentTimeout
from rdt_tui.transport.base import TransportError

from .conftest import Agent, script, wait_status, wait_until
from .test_cli import REPO, rdt

PY = sys.executable


def agent_log(state_dir: str) -> str:
    with open(os.path.join(state_dir, "agent.log"), encoding="utf-8", errors="replace") as fh:
        return fh.read()


# ----- every request gets an answer --------------------------------------------------------
def test_stats_of_a_dataset_with_nan_answers_an_error_instead_of_hanging(
    state_dir: str, workdir: str
) -> None:
    """The reply holds NaN, which JSON cannot carry: the CLI used to wait for ever."""
    data = os.path.join(workdir, "data")
    os.makedirs(data)
    x = np.random.default_rng(3).normal(0, 1, (40, 14))
    x[7, 3] = np.nan
    with h5py.File(os.path.join(data, "ep0.hdf5"), "w") as f:
        f["observations/qpos"] = x
    profile = os.path.join(workdir, "p.toml")
    with open(profile, "w") as fh:
        fh.write(
            f'command = ["true"]\ncwd = "{workdir}"\n[preflight]\npython = "{PY}"\n'
            'dataset_dir = "data"\nstats_file = "stat.json"\ndataset_name = "agilex"\n'
            'stats_keys = ["observations/qpos"]\nstats_index_map = ['
            + ", ".join(str(i) for i in range(14))
            + "]\n"
        )
    out = rdt(state_dir, "stats", "localhost", "--profile", profile, "--dry-run", timeout=90)
    assert out.returncode != 0, out.stdout
    assert "rdt-tui: error:" in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert not os.path.exists(os.path.join(workdir, "stat.json"))


@pytest.mark.asyncio
async def test_a_request_without_answer_times_out_with_a_message(agent: Agent) -> None:
    c = await agent.client()
    pid = agent.daemon_pid()
    os.kill(pid, signal.SIGSTOP)  # a daemon that answers nothing, as a hung one would
    try:
        with pytest.raises(AgentTimeout) as caught:
            await c.call("runs", timeout=1.5)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert isinstance(caught.value, TransportError)  # the CLI prints these without traceback
    assert "did not answer `runs` within 2s" in caught.value.message
    assert "agent.log" in caught.value.hint
    assert await c.runs() == []  # the connection is still good afterwards


# ----- a client that sends without reading ------------------------------------------------
@pytest.mark.asyncio
async def test_a_client_that_never_reads_is_cut_off_and_the_daemon_keeps_serving(
    agent: Agent,
) -> None:
    c = await agent.client()
    pid = int(c.info["pid"])
    rss_before = _rss(pid)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(socket_path(agent.state_dir))
    line = json.dumps({"id": "x", "op": "hello", "args": {}}).encode() + b"\n"
    sent, cut = 0, False
    sock.settimeout(30)
    try:
        for _ in range(200):  # 200 x 500 requests, never reading a reply
            sock.sendall(line * 500)
            sent += 500
    except (BrokenPipeError, ConnectionResetError):
        cut = True
    except TimeoutError:
        pass  # the daemon stopped reading (the old way): not cut
    finally:
        sock.close()
    assert cut, f"{sent} requests sent without reading, the connection still open"
    assert await c.runs() == []
    assert _rss(pid) - rss_before < 40 << 20
    assert "unanswered" in agent_log(agent.state_dir)


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for row in fh:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) * 1024
    return 0


# ----- supervision --------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_a_watcher_out_of_descriptors_resumes_and_logs_once(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    go = os.path.join(workdir, "go")
    job = script(
        workdir,
        "job.py",
        f"""
        import os, time
        step = 0
        while not os.path.exists({go!r}):
            step += 1
            print(f"step={{step}} loss={{1.0 / step:.5f}}", flush=True)
            time.sleep(0.05)
        for _ in range(20):
            step += 1
            print(f"step={{step}} loss={{1.0 / step:.5f}}", flush=True)
        print("last", step, flush=True)
        """,
    )
    run = (await c.launch([PY, job], cwd=workdir))["id"]
    deadline = time.monotonic() + 30
    while not (await c.metrics(run))["points"]:
        assert time.monotonic() < deadline, "no metric point from the job"
        await asyncio.sleep(0.2)
    pid = agent.daemon_pid()
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    used = len(os.listdir(f"/proc/{pid}/fd"))
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (used, hard))  # no new descriptor at all
    try:
        # Several polls of the watcher fail meanwhile: the first failure is logged, then a
        # few more seconds of them (not a fixed time: a loaded machine polls later).
        deadline = time.monotonic() + 60
        while "Too many open files" not in agent_log(agent.state_dir):
            assert time.monotonic() < deadline, "no poll failed for want of a descriptor"
            await asyncio.sleep(0.2)
        await asyncio.sleep(3)
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    with open(go, "w"):
        pass
    await wait_status(c, run, {"exited"})
    points = await asyncio.wait_for(c.all_metrics(run), 60)
    lines = (await c.tail(run, 1))["lines"]
    last = int(lines[-1].split()[1])
    assert max(p["step"] or 0 for p in points if p["name"] == "loss") == last
    log = agent_log(agent.state_dir)
    failures = [x for x in log.splitlines() if "Too many open files" in x]
    assert failures, log[-2000:]
    assert len(failures) <= 3, "\n".join(failures)  # repeated failures are counted, not written


# ----- a simulation setting and a daemon that runs jobs ------------------------------------
def test_other_simulated_gpus_do_not_replace_a_daemon_with_runs_nor_cut_a_stop(
    state_dir: str, workdir: str
) -> None:
    # The run stays live through the stop's grace until the test lets it end: the other
    # setting must come while the stop is under way, however long a loaded machine takes
    # to start the command (a 3 s grace was the window before).
    done = os.path.join(workdir, "done")
    job = script(
        workdir,
        "stubborn.py",
        f"""
        import os, signal, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("up", flush=True)
        while not os.path.exists({done!r}):
            time.sleep(0.05)
        """,
    )
    out = rdt(state_dir, "launch", "localhost", "--json", "--", PY, job)
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout)["run"]
    output = os.path.join(state_dir, "runs", run, "output.log")

    def up() -> bool:
        if not os.path.exists(output):
            return False
        with open(output) as fh:
            return "up" in fh.read()

    wait_until(up, 60, "the job to ignore SIGINT")
    with open(os.path.join(state_dir, "agent.pid")) as fh:
        daemon = int(fh.read())
    env = dict(os.environ, RDT_TUI_STATE_DIR=state_dir)
    stop = subprocess.Popen(
        [PY, "-m", "rdt_tui.cli", "stop", "localhost", run, "--grace", "120", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        wait_until(
            lambda: os.path.exists(os.path.join(state_dir, "runs", run, "stop.json")),
            30,
            "the stop to begin",
        )
        gpus = rdt(state_dir, "gpus", "localhost", "--simulate-gpus", "2", timeout=60)
        assert stop.poll() is None  # the stop is still under way
        open(done, "w").close()  # the job ends within its grace: a stopped run
        stdout, stderr = stop.communicate(timeout=90)
    finally:
        if stop.poll() is None:
            stop.kill()
    assert gpus.returncode == 0, gpus.stderr
    assert "SIMULATED" not in gpus.stdout and "keeps its setting" in gpus.stderr
    with open(os.path.join(state_dir, "agent.pid")) as fh:
        assert int(fh.read()) == daemon
    assert stop.returncode == 0, stderr
    assert json.loads(stdout)["status"] == "stopped"


@pytest.mark.asyncio
async def test_other_simulated_gpus_still_replace_an_idle_daemon(agent: Agent) -> None:
    first = await agent.client()
    second = await agent.client(simulate_gpus=2)
    assert second.info["simulated_gpus"] == 2 and second.info["pid"] != first.info["pid"]


def test_events_with_values_json_has_no_form_for_are_sent_as_text() -> None:
    from rdt_tui.agent.daemon import json_safe
    from rdt_tui.protocol import wire

    sample = {"gpus": [{"power": float("nan"), "temp": float("inf"), "ok": 1.5}], "p": {1, 2}}
    with pytest.raises(ValueError):
        wire.encode(sample)
    back = json.loads(wire.encode(json_safe(sample)))
    assert back["gpus"] == [{"power": "nan", "temp": "inf", "ok": 1.5}]
    assert back["p"] == "{1, 2}"


class Writer:
    """A stream writer that keeps what the daemon's connection sends."""

    data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        pass


async def test_a_connection_sends_an_event_json_has_no_form_for_as_text() -> None:
    from rdt_tui.agent.daemon import Connection

    writer = Writer()
    conn = Connection(None, None, writer)  # type: ignore[arg-type]
    await conn.send({"event": "gpu", "data": {"power": float("nan")}})
    assert json.loads(writer.data)["data"] == {"power": "nan"}


async def test_a_reply_json_has_no_form_for_is_answered_with_an_error() -> None:
    """A reply with a NaN in it: the request gets an error, never silence."""
    from types import SimpleNamespace

    from rdt_tui.agent.daemon import Connection
    from rdt_tui.agent.supervise import AgentLog

    writer = Writer()
    daemon = SimpleNamespace(agent_log=AgentLog())
    conn = Connection(daemon, None, writer)  # type: ignore[arg-type]
    await conn._answer("7", "stats", {"id": "7", "ok": True, "result": {"mean": float("nan")}})
    reply = json.loads(writer.data)
    assert reply["id"] == "7" and reply["ok"] is False
    assert reply["error"]["code"] == "unencodable" and "stats" in reply["error"]["message"]


@pytest.mark.asyncio
async def test_a_stop_cut_short_by_a_daemon_restart_is_carried_on(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    job = script(
        workdir,
        "deaf.py",
        """
        import signal, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("up", flush=True)
        time.sleep(600)
        """,
    )
    run = (await c.launch([PY, job], cwd=workdir))["id"]
    deadline = time.monotonic() + 30
    while "up" not in (await c.tail(run, 5))["lines"]:  # SIGINT ignored from here on
        assert time.monotonic() < deadline, "the job did not start"
        await asyncio.sleep(0.05)
    stopping = asyncio.ensure_future(c.stop(run, grace=3))
    stop_file = os.path.join(agent.state_dir, "runs", run, "stop.json")
    deadline = time.monotonic() + 30
    while not os.path.exists(stop_file):
        assert time.monotonic() < deadline, "the stop did not begin"
        await asyncio.sleep(0.05)
    os.kill(agent.daemon_pid(), signal.SIGKILL)  # mid-grace: SIGINT sent, and ignored
    with pytest.raises(TransportError):
        await asyncio.wait_for(stopping, 30)
    later = await agent.client()  # a new daemon, asked nothing about this run
    final = await wait_status(later, run, {"stopped"}, timeout=60)
    assert final["signal"] == signal.SIGTERM
