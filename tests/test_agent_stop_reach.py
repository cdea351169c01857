"""Stop reaches every process a run started, and nothing else; only the shim's exit counts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from rdt_tui.agent.procs import start_time

from .conftest import Agent, script, wait_status, wait_until
from .test_cli import rdt

pytestmark = pytest.mark.asyncio

# A worker that ignores the polite signals, so only SIGKILL ends it; it says when it is ready.
STUBBORN = (
    "import os, signal, sys, time\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "open(os.path.join(sys.argv[1], 'ready-%d' % os.getpid()), 'w').close()\n"
    "time.sleep(600)\n"
)


def read_text(path: str, mode: str = "r") -> str | bytes:
    try:
        with open(path, mode) as fh:
            return fh.read()
    except OSError:
        return ""


def read_pids(path: str, count: int) -> list[int]:
    wait_until(lambda: len(read_text(path).split()) >= count, what=f"{count} pids in {path}")
    return [int(p) for p in read_text(path).split()]


def wait_ready(workdir: str, pids: list[int]) -> None:
    """Until each stubborn worker has set its signals aside (a signal before that ends it)."""
    for ready in [os.path.join(workdir, f"ready-{pid}") for pid in pids]:
        wait_until(lambda r=ready: os.path.exists(r), what=ready)


def alive(pid: int) -> bool:
    return start_time(pid) is not None


@pytest.fixture(params=["cgroup", "no-cgroup"])
def containment(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a run is held: a cgroup (root here) and without one (an SSH session's scope)."""
    if request.param == "no-cgroup":
        monkeypatch.setenv("RDT_TUI_CGROUP", "off")  # the daemon inherits it from attach
    return str(request.param)


ESCAPES = """
import os, subprocess, sys
pids = os.path.join(WORKDIR, "pids")
stubborn = STUBBORN
# 1. a clean environment: no marker
a = subprocess.Popen(["env", "-i", sys.executable, "-c", stubborn, WORKDIR])
# 2. a clean environment, its own session, and orphaned (double fork): only the tree,
#    the subreaper and the cgroup still hold it
r, w = os.pipe()
if os.fork() == 0:
    os.setsid()
    b = subprocess.Popen(["env", "-i", sys.executable, "-c", stubborn, WORKDIR], close_fds=True)
    os.write(w, str(b.pid).encode())
    os._exit(0)
os.close(w)
b_pid = int(os.read(r, 64))
with open(pids, "w") as fh:
    fh.write(f"{a.pid} {b_pid} ")
"""


def escapes(workdir: str) -> str:
    return ESCAPES.replace("WORKDIR", repr(workdir)).replace("STUBBORN", repr(STUBBORN))


async def test_stop_ends_env_i_children_orphans_and_a_job_that_re_execs_without_marker(
    agent: Agent, workdir: str, containment: str
) -> None:
    c = await agent.client()
    job = script(
        workdir,
        "job.py",
        escapes(workdir)
        + textwrap.dedent(
            f"""
            # 3. the job itself re-execs without the marker (still ignoring polite signals)
            env = {{k: v for k, v in os.environ.items() if k != "RDT_TUI_RUN"}}
            with open(pids, "a") as fh:
                fh.write(str(os.getpid()))
            os.execve(sys.executable, [sys.executable, "-c", stubborn, {workdir!r}], env)
            """
        ),
    )
    run = await c.launch([sys.executable, job], cwd=workdir)
    escaped = read_pids(os.path.join(workdir, "pids"), 3)
    wait_ready(workdir, escaped)
    status = await c.status(run["id"])
    assert status["status"] == "running"
    final = await c.stop(run["id"], grace=0.5)
    for pid in escaped:
        assert not alive(pid), f"pid {pid} escaped the stop"
    assert final["status"] == "stopped", final
    assert final["exit_code"] == 128 + signal.SIGKILL
    # The status says what held the run, in the CLI too.
    assert ("cgroup" in final["held_by"]) == (containment == "cgroup"), final["held_by"]
    assert "subreaper" in final["held_by"]
    shown = await asyncio.get_running_loop().run_in_executor(
        None, lambda: rdt(agent.state_dir, "status", "localhost", run["id"])
    )
    assert "held by  " + ", ".join(final["held_by"]) in shown.stdout, shown.stdout


async def test_workers_left_by_an_ended_job_are_reported_and_stopped(
    agent: Agent, workdir: str, containment: str
) -> None:
    c = await agent.client()
    job = script(workdir, "job.py", escapes(workdir) + "sys.exit(4)\n")
    run = await c.launch([sys.executable, job], cwd=workdir)
    left = read_pids(os.path.join(workdir, "pids"), 2)
    wait_ready(workdir, left)
    ended = await wait_status(c, run["id"], {"exited"})
    assert ended["exit_code"] == 4
    for _ in range(600):  # the job's short-lived helper (the double fork) may still be exiting
        if sorted(ended.get("leftover") or []) == sorted(left):
            break
        await asyncio.sleep(0.1)
        ended = await c.status(run["id"])
    listed = await asyncio.get_running_loop().run_in_executor(
        None, lambda: rdt(agent.state_dir, "runs", "localhost")
    )
    final = await c.stop(run["id"], grace=0.5)
    for pid in left:
        assert not alive(pid), f"leftover worker {pid} survived the stop"
    assert not final.get("already_ended"), final
    # Before the stop, the status named the processes the job left behind.
    assert sorted(ended.get("leftover") or []) == sorted(left), ended
    assert "outlived" in ended["error"]
    assert "exited (4), 2 processes left" in listed.stdout, listed.stdout
    # The job's own exit is kept: it ended by itself with 4, it was not "stopped".
    assert final["status"] == "exited" and final["exit_code"] == 4
    assert not final.get("leftover")


async def test_a_daemon_started_inside_a_run_does_not_pass_its_marker_to_later_runs(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    go = os.path.join(workdir, "go")
    job = script(
        workdir,
        "inside.py",
        f"""
        import os, signal, subprocess, sys, time
        while not os.path.exists({go!r}):
            time.sleep(0.05)
        # What a user's job may do: run rdt-tui, which starts the agent's daemon.
        attach = subprocess.Popen(
            [sys.executable, "-m", "rdt_tui.agent", "--state-dir", {agent.state_dir!r}, "attach"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        )
        # Stubborn: the stop goes all the way to SIGKILL (and the cgroup's kill).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(600)
        """,
    )
    first = await c.launch([sys.executable, job], cwd=workdir, name="first")
    await c.call("shutdown")  # the next daemon is the one the job starts
    wait_until(lambda: not os.path.exists(os.path.join(agent.state_dir, "agent.sock")))
    open(go, "w").close()
    wait_until(lambda: os.path.exists(os.path.join(agent.state_dir, "agent.sock")), what="daemon")
    c2 = await agent.client()
    daemon = c2.info["pid"]
    second = await c2.launch(["sleep", "600"], cwd=workdir, name="second")
    with open(os.path.join(agent.state_dir, "runs", second["id"], "state.json")) as fh:
        state2 = json.load(fh)
    stopped = await c2.stop(first["id"], grace=0.5)
    assert stopped["status"] == "stopped"
    assert alive(state2["shim_pid"]), "stopping the first run killed the second run's shim"
    assert alive(state2["pid"])
    assert (await c2.call("hello"))["pid"] == daemon, "stopping the first run killed the daemon"
    assert (await c2.status(second["id"]))["status"] == "running"
    final = await c2.stop(second["id"], grace=0.5)
    assert final["status"] == "stopped" and final["exit_code"] in (130, 137)
    with open(f"/proc/{daemon}/environ", "rb") as fh:
        assert b"RDT_TUI_RUN=" not in fh.read()


async def test_an_exit_record_written_by_the_job_is_not_believed(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    go = os.path.join(workdir, "go")
    job = script(
        workdir,
        "forger.py",
        f"""
        import json, os, sys, time
        run_dir = os.path.join({agent.state_dir!r}, "runs", os.environ["RDT_TUI_RUN"])
        with open(os.path.join(run_dir, "exit.json"), "w") as fh:
            json.dump({{"code": 0, "signal": None, "ended_at": time.time()}}, fh)
        print("forged", flush=True)
        while not os.path.exists({go!r}):
            time.sleep(0.05)
        sys.exit(6)
        """,
    )
    run = await c.launch([sys.executable, job], cwd=workdir)
    exit_json = os.path.join(agent.state_dir, "runs", run["id"], "exit.json")
    wait_until(lambda: os.path.exists(exit_json), what="the forged exit.json")
    status = await c.status(run["id"])
    assert status["status"] == "running", status
    assert "not written by the run's monitor" in status.get("error", ""), status
    open(go, "w").close()
    final = await wait_status(c, run["id"], {"exited"})
    assert final["exit_code"] == 6


async def test_a_forged_record_of_a_job_that_is_gone_is_ignored(agent: Agent) -> None:
    c = await agent.client()
    run_dir = os.path.join(agent.state_dir, "runs", "forged-1")
    os.makedirs(run_dir)
    spec = {"id": "forged-1", "argv": ["x"], "cwd": "/", "created_at": 1.0, "shim_key": "k" * 32}
    dead = subprocess.Popen(["true"])
    dead.wait()
    for name, obj in (
        ("spec.json", spec),
        ("state.json", {"pid": dead.pid, "start_time": 1, "shim_pid": dead.pid, "shim_start": 1}),
        ("exit.json", {"code": 0, "signal": None, "ended_at": time.time(), "mac": "0" * 64}),
    ):
        with open(os.path.join(run_dir, name), "w") as fh:
            json.dump(obj, fh)
    s = await c.status("forged-1")
    assert s["status"] == "lost" and s["exit_code"] is None
    assert "not written by the run's monitor" in s["error"]


async def test_stop_signals_the_recorded_job_even_without_any_marker(
    agent: Agent, workdir: str
) -> None:
    # The job drops the marker by re-exec into a program that ends politely on SIGINT.
    c = await agent.client()
    job = script(
        workdir,
        "reexec.py",
        """
        import os, sys
        env = {k: v for k, v in os.environ.items() if k != "RDT_TUI_RUN"}
        os.execve(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)"], env)
        """,
    )
    run = await c.launch([sys.executable, job], cwd=workdir)
    pid = run["pid"]
    wait_until(lambda: b"RDT_TUI_RUN" not in read_text(f"/proc/{pid}/environ", "rb"))
    t0 = time.monotonic()
    final = await c.stop(run["id"], grace=20)
    assert final["status"] == "stopped"
    # The polite signal reached it (Python ends by SIGINT, or exits 1 from a
    # KeyboardInterrupt raised while it starts): no SIGKILL was needed.
    assert final["exit_code"] in (1, 130), final
    assert time.monotonic() - t0 < 15


async def test_a_restarted_daemon_removes_the_empty_cgroup_a_killed_shim_left(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    run = await c.launch(["sleep", "600"], cwd=workdir)
    with open(os.path.join(agent.state_dir, "runs", run["id"], "state.json")) as fh:
        state = json.load(fh)
    if not state.get("cgroup"):
        pytest.skip("no cgroup can be made here")
    for pid in (state["shim_pid"], state["pid"]):  # the node's OOM killer takes both
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(state["pid"]) and not alive(state["shim_pid"]))
    assert os.path.isdir(state["cgroup"])
    os.kill(agent.daemon_pid(), signal.SIGKILL)
    c2 = await agent.client()  # a new daemon adopts what is left
    assert (await c2.status(run["id"]))["status"] == "lost"
    assert not os.path.exists(state["cgroup"])
