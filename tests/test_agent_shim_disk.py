"""The job never sees our disk problems: a full state directory drops output, not the job."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator

import pytest

from rdt_tui.agent.procs import start_time
from rdt_tui.core.preflight import evaluate

from .conftest import Agent, _kill_runs_of, _stop_daemon, wait_status, wait_until

pytestmark = pytest.mark.asyncio


@pytest.fixture
def small_state_dir() -> Iterator[str]:
    """A state directory on its own 3 MiB tmpfs, so the test can fill it."""
    path = tempfile.mkdtemp(prefix="rdt-full-", dir="/tmp")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", path],
        capture_output=True,
    )
    if mounted.returncode != 0:
        os.rmdir(path)
        pytest.skip("needs root to mount a small tmpfs: " + mounted.stderr.decode().strip())
    try:
        yield path
    finally:
        try:
            _stop_daemon(path)
            _kill_runs_of(path)
        finally:
            subprocess.run(["umount", "-l", path], check=False)
            shutil.rmtree(path, ignore_errors=True)


def fill(directory: str) -> str:
    """Write a file until the filesystem refuses; its path."""
    path = os.path.join(directory, "filler")
    block = b"x" * 65536
    with open(path, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(block)
        except OSError:
            pass
    with open(path, "ab", buffering=0) as fh:  # the last few bytes too
        try:
            while True:
                fh.write(b"x")
        except OSError:
            pass
    return path


async def test_a_full_state_disk_drops_output_but_the_job_runs_on_and_its_exit_is_kept(
    small_state_dir: str, workdir: str
) -> None:
    agent = Agent(small_state_dir)
    try:
        c = await agent.client()
        go = os.path.join(workdir, "go")
        printed = os.path.join(workdir, "printed")
        job = os.path.join(workdir, "job.py")
        with open(job, "w") as fh:
            fh.write(
                textwrap.dedent(
                    f"""
                    import os, sys, time
                    n = 0
                    while not os.path.exists({go!r}):
                        n += 1
                        print(f"line {{n}} " + "y" * 200)
                        print(f"err {{n}}", file=sys.stderr)
                        if n % 50 == 0:
                            with open({printed!r}, "w") as fh:
                                fh.write(str(n))
                        time.sleep(0.002)
                    print("the end")
                    sys.exit(5)
                    """
                )
            )
        run = await c.launch([sys.executable, job], cwd=workdir)
        run_dir = os.path.join(small_state_dir, "runs", run["id"])
        wait_until(lambda: os.path.exists(printed), what="the job to print")
        filler = fill(small_state_dir)

        def lines_printed() -> int:
            with open(printed) as fh:
                return int(fh.read() or 0)

        before = lines_printed()
        wait_until(lambda: lines_printed() > before + 500, what="the job to go on printing")
        s = await c.status(run["id"])
        assert s["status"] == "running", s
        assert s["dropped_bytes"] > 0 and "dropped" in s["error"], s
        # The preflight of the next launch says there is no room for a log.
        facts = await c.call("preflight", {"params": {}, "cwd": workdir}, timeout=120)
        room = [x for x in evaluate(facts, {}) if x["id"] == "state_dir"]
        assert room and room[0]["status"] == "fail" and small_state_dir in room[0]["detail"]
        open(go, "w").close()  # the job ends while the disk is still full
        ended = await wait_status(c, run["id"], {"exited"}, timeout=60)
        assert ended["exit_code"] == 5, ended  # its own code: the disk never reached it
        os.unlink(filler)  # space returns: the shim says in the log what was lost

        def notice() -> bool:
            with open(os.path.join(run_dir, "output.log"), "rb") as fh:
                return b"bytes of output were dropped" in fh.read()

        wait_until(notice, timeout=60, what="the dropped-output notice")
        final = await c.status(run["id"])
        assert final["status"] == "exited" and final["exit_code"] == 5
        assert final["dropped_bytes"] > 0
    finally:
        await agent.close_all()


async def test_a_run_deleted_under_its_shim_lets_the_shim_end(agent: Agent, workdir: str) -> None:
    c = await agent.client()
    go = os.path.join(workdir, "go")
    wait_go = f"import os, time\nwhile not os.path.exists({go!r}):\n    time.sleep(0.05)\n"
    run = await c.launch([sys.executable, "-c", wait_go], cwd=workdir)
    run_dir = os.path.join(agent.state_dir, "runs", run["id"])
    with open(os.path.join(run_dir, "state.json")) as fh:
        state = json.load(fh)
    # The user cleans up the state directory by hand. The job's shim and the agent's watcher
    # may write a file into it as it goes (rmtree then says "Directory not empty"): again, as
    # a user would run `rm -rf` again.
    deadline = time.monotonic() + 10
    while os.path.exists(run_dir):
        assert time.monotonic() < deadline, f"{run_dir} keeps coming back: {os.listdir(run_dir)}"
        shutil.rmtree(run_dir, ignore_errors=True)
    open(go, "w").close()
    # Nowhere to record the exit: the shim ends instead of retrying forever.
    wait_until(lambda: start_time(state["shim_pid"]) is None, timeout=60, what="the shim to end")
    if state.get("cgroup"):
        assert not os.path.exists(state["cgroup"])
