"""Adopting runs started by hand, with small real jobs (no torch): refusals, the log read from
its first byte and never written, the tree and nothing else stopped, a reused pid left alone.
The real accelerate runs (nohup, tmux) are in test_adopt_accelerate.py."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import subprocess
import sys
import time

import pytest

from rdt_tui.agent.adoptproc import adopted_members, cmdline, guess_checkpoint_dir, stdout_of
from rdt_tui.agent.procs import Proc, process_table, start_time
from rdt_tui.client import AgentCallError
from rdt_tui.core.metrics import parse_text

from .adopt_jobs import alive, kill_tree, read, shell, tree, wait_for
from .conftest import Agent, wait_status
from .test_cli import rdt, rdt_json

# A job that forks a worker (both print), like a launcher and its rank.
JOB = r"""
import os, sys, time
parent = os.getpid()
if os.fork() == 0:
    # A rank: it ends with its launcher, unless stubborn (then only a signal of its own ends it)
    while os.getppid() == parent or "stubborn" in sys.argv:
        time.sleep(0.05)
    os._exit(0)
for i in range(1, 1000000):
    print(f"step={i} loss={1.0 / i:.5f} lr=0.001", flush=True)
    time.sleep(float(sys.argv[1]))
    if i == int(sys.argv[2]):
        break
"""


def start_job(
    workdir: str, delay: float = 0.05, steps: int = 10**6, bait: bool = False, *extra: str
) -> list[int]:
    """``nohup python JOB > job.log 2>&1 &`` from a shell (and a decoy beside it, in the
    same session and group); the job's pid (and the decoy's)."""
    with open(os.path.join(workdir, "job.py"), "w") as fh:
        fh.write(JOB)
    job = [sys.executable, "job.py", str(delay), str(steps), "--output_dir", "ckpts", *extra]
    decoy = [sys.executable, "-c", "import time; time.sleep(600)", "job.py"]
    pids = shell(workdir, job, *([decoy] if bait else []), log="job.log")
    wait_for(lambda: len(tree(pids[0])) >= 2, 60, "the job's worker")
    return pids


def foreign_pid() -> int:
    """A process of another user (root's, when the tests do not run as root)."""
    from rdt_tui.agent.adoptproc import uid_of

    for pid in sorted(process_table()):
        if pid > 1 and uid_of(pid) not in (None, os.getuid()):
            return pid
    pytest.skip("no process of another user on this machine")


def points_of(text: str) -> dict[tuple[str, int | None], float]:
    return {(p.name, p.step): float(p.value) for p in parse_text(text)}


# ----- units -------------------------------------------------------------------------------
def test_checkpoint_dir_is_guessed_from_the_command_line(tmp_path: object) -> None:
    cwd = str(tmp_path)
    assert guess_checkpoint_dir(["python", "t.py", "--output_dir", "out"], cwd, 0) == f"{cwd}/out"
    assert guess_checkpoint_dir(["t.py", "--output-dir=/abs/x"], cwd, 0) == "/abs/x"
    assert guess_checkpoint_dir(["t.py", "hydra.run.dir=runs/a"], cwd, 0) == f"{cwd}/runs/a"
    assert guess_checkpoint_dir(["t.py", "lr=1"], cwd, time.time()) is None
    # Hydra's default: outputs/DATE/TIME made when the process started.
    started = time.mktime(time.strptime("2026-11-30 10-00-05", "%Y-%m-%d %H-%M-%S"))
    for hms in ("09-00-00", "10-00-04", "10-30-00"):
        os.makedirs(os.path.join(cwd, "outputs", "2026-11-30", hms))
    assert guess_checkpoint_dir(["t.py"], cwd, started) == f"{cwd}/outputs/2026-11-30/10-00-04"


def test_members_never_take_a_reused_pid_nor_a_foreign_session() -> None:
    def proc(pid: int, ppid: int, sid: int, start: int, pgid: int = 0) -> Proc:
        return Proc(pid, ppid, pgid or pid, sid, "S", start, "python")

    table = {
        p.pid: p
        for p in (
            proc(10, 1, 10, 5),  # the user's login shell, leader of its session
            proc(20, 1, 10, 50),  # the adopted launcher (nohup: re-parented, same session)
            proc(21, 20, 10, 51),  # a rank
            proc(22, 1, 10, 52),  # a rank orphaned by a dead parent, recorded earlier
            proc(30, 1, 10, 60),  # a decoy started from the same shell
            proc(40, 1, 40, 70),  # pid 40 was a rank once; reused by a stranger
            proc(41, 40, 40, 71),  # the stranger's child
            proc(50, 1, 50, 80),  # a worker that made its own session
            proc(51, 1, 50, 81),  # ... and its orphan, found by that session
            # 60 was a rank that died; its pid went to a stranger who led group 60 and died
            # too, leaving this child in group 60: no process of ours is in that group.
            proc(61, 1, 61, 90, pgid=60),
        )
    }
    state = {"pid": 20, "start_time": 50, "tree": [[22, 52], [40, 9], [50, 80], [60, 55]]}
    assert adopted_members(state, table, set()) == [20, 21, 22, 50, 51]
    assert adopted_members(state, table, {21}) == [20, 22, 50, 51]


def test_stdout_of_tells_a_file_a_tty_and_a_pipe(tmp_path: object) -> None:
    code = "import time; time.sleep(30)"
    log = os.path.join(str(tmp_path), "x.log")
    with open(log, "w") as fh:
        to_file = subprocess.Popen([sys.executable, "-c", code], stdout=fh)
    master, slave = pty.openpty()
    to_tty = subprocess.Popen([sys.executable, "-c", code], stdout=slave)
    to_pipe = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert stdout_of(to_file.pid) == (log, "file")
        assert stdout_of(to_tty.pid) == (None, "tty")
        assert stdout_of(to_pipe.pid) == (None, "pipe")
    finally:
        for p in (to_file, to_tty, to_pipe):
            p.kill()
            p.wait()
        os.close(master)
        os.close(slave)


# ----- through the agent -------------------------------------------------------------------
@pytest.mark.asyncio
async def test_adopted_job_is_parsed_from_its_first_byte_and_its_log_never_written(
    agent: Agent, workdir: str
) -> None:
    (pid,) = start_job(workdir, delay=0.02, steps=150)
    log = os.path.join(workdir, "job.log")
    wait_for(lambda: os.path.getsize(log) > 0, 60, "the first line")
    c = await agent.client()
    found = {x["pid"]: x for x in await c.candidates()}
    assert pid not in found  # a plain python job, no launcher, no GPU: not a candidate
    run = await c.adopt(pid)
    assert run["kind"] == "adopted" and run["status"] == "running"
    assert run["log"] == log and set(run["pids"]) == tree(pid)
    assert (await c.adopt(pid))["id"] == run["id"]  # the same process, the same run
    final = await wait_status(c, run["id"], {"ended"}, timeout=60)
    assert final["exit_code"] is None and final["exit_code_known"] is False
    kill_tree(tree(pid))
    before = os.stat(log)
    text = read(log)
    got = await c.all_metrics(run["id"])
    assert {(p["name"], p["step"]): float(p["value"]) for p in got} == points_of(text)
    assert len(got) == 300  # loss and lr of 150 steps, the first ones included
    after = os.stat(log)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    run_dir = os.path.join(agent.state_dir, "runs", run["id"])
    assert os.readlink(os.path.join(run_dir, "output.log")) == log
    listing = await c.checkpoints(run["id"])
    assert listing["directory"] == os.path.join(workdir, "ckpts")
    assert (await c.tail(run["id"], 3))["lines"] == text.splitlines()[-3:]
    ended: list[dict[str, str]] = []
    for _ in range(600):  # the alert engine looks every half second (60 s on a loaded machine)
        alerts = (await c.call("alerts", {}))["alerts"]
        ended = [a for a in alerts if a["run"] == run["id"] and a["kind"] == "exit"]
        if ended:
            break
        await asyncio.sleep(0.1)
    assert [(a["severity"], a["message"]) for a in ended] == [
        ("info", "ended (exit code unknown: it was started outside rdt-tui)")
    ]


@pytest.mark.asyncio
async def test_an_adopted_run_outlives_a_daemon_restart(agent: Agent, workdir: str) -> None:
    (pid,) = start_job(workdir)
    try:
        c = await agent.client()
        run = await c.adopt(pid)
        members = tree(pid)
        os.kill(agent.daemon_pid(), signal.SIGKILL)
        c2 = await agent.client()  # starts a new daemon, which re-adopts the live runs
        assert (await c2.status(run["id"]))["status"] == "running"
        seen = len(await c2.all_metrics(run["id"], wait_ended=False))
        stopped = await c2.stop(run["id"], grace=5)
        assert stopped["status"] == "stopped" and not any(p in process_table() for p in members)
        assert seen > 0
    finally:
        kill_tree(tree(pid))


@pytest.mark.asyncio
async def test_stop_reaches_the_tree_only_and_never_a_reused_pid(
    agent: Agent, workdir: str
) -> None:
    # Same user, session and group as the job; its rank outlives it unless signalled itself.
    pid, bait = start_job(workdir, 0.05, 10**6, True, "stubborn")
    bait_start = start_time(bait)
    reused = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "job.py"])
    try:
        c = await agent.client()
        run = await c.adopt(pid)
        members = tree(pid)
        assert set(run["pids"]) == members and len(members) == 2
        # The adopted process's pid now names another process (start time differs): as if
        # the job had died and its pid been reused. Its recorded tree is still the job's.
        path = os.path.join(agent.state_dir, "runs", run["id"], "state.json")
        with open(path) as fh:
            state = json.load(fh)
        own_start = start_time(pid)
        state["tree"] = [[p, start_time(p)] for p in members]
        state["pid"] = reused.pid
        assert start_time(reused.pid) != own_start
        with open(path + ".tmp", "w") as fh:
            json.dump(state, fh)
        os.replace(path + ".tmp", path)
        stopped = await c.stop(run["id"], grace=5)
        assert stopped["status"] == "stopped" and stopped["exit_code_known"] is False
        assert not any(p in process_table() for p in members)
        assert alive(bait, bait_start) and reused.poll() is None
    finally:
        reused.kill()
        reused.wait()
        kill_tree(tree(pid) | ({bait} if alive(bait, bait_start) else set()))


@pytest.mark.asyncio
async def test_refusals_say_why(agent: Agent, workdir: str) -> None:
    c = await agent.client()
    code = "import time; time.sleep(60)"
    root = os.getuid() == 0
    other = subprocess.Popen(["sleep", "60"], user=65534) if root else None  # `nobody`
    master, slave = pty.openpty()
    on_tty = subprocess.Popen([sys.executable, "-c", code], stdout=slave, cwd=workdir)
    try:
        foreign = other.pid if other is not None else foreign_pid()
        with pytest.raises(AgentCallError, match=f"process {foreign} belongs to user"):
            await c.adopt(foreign)
        with pytest.raises(AgentCallError, match="goes to a terminal") as err:
            await c.adopt(on_tty.pid)
        assert "--log" in err.value.hint
        with open(os.path.join(workdir, "mine.log"), "w") as fh:
            fh.write("step=1 loss=0.5\n")
        run = await c.adopt(on_tty.pid, log="mine.log")  # relative to the process's cwd
        assert run["log"] == os.path.join(workdir, "mine.log")
        with pytest.raises(AgentCallError, match="no process"):
            await c.adopt(4194304 + 7)
        kthread = next((p for p in process_table() if p > 2 and not cmdline(p)), None)
        if kthread is not None and os.getuid() == 0:  # kernel threads are root's
            with pytest.raises(AgentCallError, match="kernel thread"):
                await c.adopt(kthread, log="mine.log")
        ours = await c.launch([sys.executable, "-c", code], cwd=workdir)
        await wait_status(c, ours["id"], {"running"})
        with pytest.raises(AgentCallError, match=f"already part of run {ours['id']}"):
            await c.adopt(int((await c.status(ours["id"]))["pid"] or 0))
        with pytest.raises(AgentCallError, match="rdt-tui's own agent"):
            await c.adopt(agent.daemon_pid())
        await c.stop(ours["id"], grace=1)
    finally:
        for p in (other, on_tty):
            if p is not None:
                p.kill()
                p.wait()
        os.close(master)
        os.close(slave)


def test_cli_adopt_status_and_runs_say_exit_code_unknown(state_dir: str, workdir: str) -> None:
    (pid,) = start_job(workdir)
    try:
        out = rdt(state_dir, "adopt", "localhost", "--pid", str(pid), "--name", "byhand")
        assert out.returncode == 0, out.stderr
        assert "adopted byhand-" in out.stdout and "exit code cannot be known" in out.stdout
        run_id = out.stdout.split()[1]
        kill_tree(tree(pid))
        deadline = time.monotonic() + 30
        while True:
            status = rdt(state_dir, "status", "localhost", run_id)
            if "ended (exit code unknown)" in status.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert "status   ended (exit code unknown)" in status.stdout, status.stdout
        assert f"log      {workdir}/job.log (adopted" in status.stdout
        assert "ended (exit code unknown)" in rdt(state_dir, "runs", "localhost").stdout
        refused = rdt(state_dir, "adopt", "localhost", "--pid", "1")
        assert refused.returncode == 1 and "process 1 is no training run" in refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        kill_tree(tree(pid))


def test_cli_adopt_without_pid_lists_the_candidates(state_dir: str, workdir: str) -> None:
    launcher = os.path.join(workdir, "torchrun")  # a launcher, by its program's name
    with open(launcher, "w") as fh:
        fh.write(JOB)
    (pid,) = shell(workdir, [sys.executable, launcher, "0.05", "100000"], log="job.log")
    try:
        wait_for(lambda: len(tree(pid)) == 2, 60, "the rank")
        out = rdt(state_dir, "adopt", "localhost")
        assert out.returncode == 0, out.stderr
        text = out.stdout
        assert f"pid {pid}: 2 process(es)" in text and f"cwd      {workdir}" in text
        assert f"log      {workdir}/job.log" in text
        assert "adopt one with: rdt-tui adopt localhost --pid PID" in text
        listed = rdt_json(state_dir, "adopt", "localhost")
        assert [c["pid"] for c in listed if c["cwd"] == workdir] == [pid]
    finally:
        kill_tree(tree(pid))


def test_the_end_of_an_adopted_run_is_worded_without_an_exit_code() -> None:
    from rdt_tui.core.alerts import ended_text

    final = {"status": "ended", "exit_code": None, "exit_code_known": False}
    assert ended_text(final) == ("ended (exit code unknown: it was not started by rdt-tui)", False)
    stopped = dict(final, status="stopped")
    assert (
        ended_text(stopped)[0]
        == "stopped as asked (exit code unknown: it was not started by rdt-tui)"
    )
