"""What a job prints cannot take the metrics down: real runs through the real agent.

Hundreds of metric names keep the daemon's descriptors bounded; an absurd step does not end
the run's watcher; a ``log_files`` glob does not pick up the previous run's log.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time

import pytest

from .conftest import Agent, wait_status
from .test_agent_runs import script

pytestmark = pytest.mark.asyncio

NAMES = 450


def daemon_fds(agent: Agent) -> int:
    return len(os.listdir(f"/proc/{agent.daemon_pid()}/fd"))


async def test_hundreds_of_metric_names_keep_descriptors_bounded(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    job = script(
        workdir,
        "tasks.py",
        f"""
        import sys, time
        for step in (100, 200, 300):
            print(f"step={{step}}", flush=True)
            for i in range({NAMES}):  # a per-task success dump
                print(f"task_{{i:03d}}/success_rate={{(i % 10) / 10 + step}}", flush=True)
            time.sleep(1.2)  # several polls of the watcher while the run is alive
        """,
    )
    await c.runs()  # the daemon is up: its descriptors before the run
    before = daemon_fds(agent)
    run = await c.launch([sys.executable, "-u", job], cwd=workdir)
    peak = before
    deadline = time.monotonic() + 60
    while (await c.status(run["id"]))["status"] != "exited":
        peak = max(peak, daemon_fds(agent))
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    points = await asyncio.wait_for(c.all_metrics(run["id"]), 60)
    peak = max(peak, daemon_fds(agent))
    # One record file and the log per watched run, whatever the number of names (three files
    # per name before: 1,350 more here).
    assert peak - before <= 12, (before, peak)
    assert len(points) == 3 * NAMES
    assert len({p["name"] for p in points}) == NAMES
    assert {p["step"] for p in points} == {100, 200, 300}
    # The daemon still answers, on a new connection too.
    other = await agent.client()
    assert any(r["id"] == run["id"] for r in await other.runs())


async def test_an_absurd_step_does_not_end_the_watcher(agent: Agent, workdir: str) -> None:
    c = await agent.client()
    job = script(
        workdir,
        "absurd.py",
        """
        import time
        print("step=1 loss=0.5", flush=True)
        print("step=100000000000000000000 loss=1", flush=True)
        print('{"step": NaN, "loss": 2}', flush=True)
        print("Steps: 1%| | 99999999999999999999999/3 [00:01<00:01, 1.0it/s, loss=3]", flush=True)
        time.sleep(1.5)
        print("step=2 loss=0.25", flush=True)
        """,
    )
    run = await c.launch([sys.executable, job], cwd=workdir)
    await wait_status(c, run["id"], {"exited"})
    # Before: the watcher died on the first absurd line and this waited forever.
    page = await asyncio.wait_for(c.metrics(run["id"], wait_ended=True), 30)
    assert page["finished"]
    assert [(p["name"], p["value"], p["step"]) for p in page["points"]] == [
        ("loss", 0.5, 1),
        ("loss", 0.25, 2),
    ]
    sub = await c.subscribe(run["id"], gpu=False)
    while True:
        ev = await sub.next(30)
        if ev["event"] == "status" and ev["data"].get("complete"):
            break


def write_dp_log(path: str, losses: list[float], first_step: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as fh:
        for i, loss in enumerate(losses):
            fh.write(json.dumps({"train_loss": loss, "global_step": first_step + i}) + "\n")


async def test_a_log_files_glob_follows_this_runs_file_not_the_previous_one(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    # The previous run's Hydra directory: the newest match of the glob at launch.
    old = os.path.join(workdir, "data/outputs/2025.07.01/14.03.22_robot_x/logs.json.txt")
    write_dp_log(old, [9.0, 8.0], 100)
    past = time.time() - 600
    os.utime(old, (past, past))
    job = script(
        workdir,
        "dp.py",
        """
        import json, os, time
        time.sleep(2.5)  # the watcher polls meanwhile: only the old file matches
        d = "data/outputs/2025.07.01/15.10.00_robot_x"  # Hydra makes the run's directory
        os.makedirs(d)
        with open(os.path.join(d, "logs.json.txt"), "w") as fh:
            for step in range(3):
                fh.write(json.dumps({"train_loss": 0.5 / (step + 1), "global_step": step}) + "\\n")
        """,
    )
    glob_ = "data/outputs/*/*/logs.json.txt"
    run = await c.launch([sys.executable, job], cwd=workdir, log_files=[glob_], metric_format="dp")
    await wait_status(c, run["id"], {"exited"})
    points = await asyncio.wait_for(c.all_metrics(run["id"]), 30)
    assert [(p["name"], p["value"], p["step"]) for p in points] == [
        ("train_loss", 0.5, 0),
        ("train_loss", 0.25, 1),
        ("train_loss", 0.5 / 3, 2),
    ]


async def test_a_run_that_writes_no_new_log_shows_none_of_the_old_one(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    old = os.path.join(workdir, "data/outputs/2025.07.01/14.03.22_robot_x/logs.json.txt")
    write_dp_log(old, [9.0], 100)
    past = time.time() - 600
    os.utime(old, (past, past))
    run = await c.launch(
        [sys.executable, "-c", "import time; time.sleep(1.5)"],
        cwd=workdir,
        log_files=["data/outputs/*/*/logs.json.txt"],
        metric_format="dp",
    )
    await wait_status(c, run["id"], {"exited"})
    assert await asyncio.wait_for(c.all_metrics(run["id"]), 30) == []


async def test_a_log_file_that_the_run_appends_to_is_read_from_where_it_ended(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    log = os.path.join(workdir, "out", "run.log")  # logging.FileHandler appends across runs
    write_dp_log(log, [9.0, 8.0], 100)
    past = time.time() - 600
    os.utime(log, (past, past))
    job = script(
        workdir,
        "append.py",
        """
        import json, time
        time.sleep(1.5)  # the watcher looked at launch: the file was the previous runs' then
        with open("out/run.log", "a") as fh:
            fh.write(json.dumps({"train_loss": 0.5, "global_step": 0}) + "\\n")
        """,
    )
    run = await c.launch([sys.executable, job], cwd=workdir, log_files=["out/*.log"])
    await wait_status(c, run["id"], {"exited"})
    points = await asyncio.wait_for(c.all_metrics(run["id"]), 30)
    assert [(p["name"], p["value"], p["step"]) for p in points] == [("train_loss", 0.5, 0)]


async def test_a_daemon_killed_mid_run_replays_its_records_to_the_same_points(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    job = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jobs", "tqdm_loop.py")
    run = await c.launch(
        [sys.executable, job, "update_then_postfix", "40"],
        cwd=workdir,
        env={"TQDM_LOOP_DELAY": "0.1", "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 30
    while len(before := (await c.metrics(run["id"]))["points"]) < 10:  # a cursor saved too
        assert time.monotonic() < deadline, before
        await asyncio.sleep(0.2)
    metrics = os.path.join(agent.state_dir, "runs", run["id"], "metrics")
    vouched = 0
    while not vouched:  # a cursor (every CURSOR_EVERY_S) vouches for records on disk
        assert time.monotonic() < deadline + 30, "no cursor vouched for a record"
        await asyncio.sleep(0.2)
        with open(os.path.join(metrics, "cursor.json")) as fh:
            vouched = json.load(fh)["bytes"]
    with open(os.path.join(metrics, "points.bin"), "rb") as fh:
        records = fh.read(vouched)
    os.kill(agent.daemon_pid(), signal.SIGKILL)
    c2 = await agent.client()  # a new daemon: replays points.bin up to the cursor
    await wait_status(c2, run["id"], {"exited"})
    after = (await asyncio.wait_for(c2.metrics(run["id"], wait_ended=True), 30))["points"]
    loss = [(p["step"], p["value"]) for p in after if p["name"] == "loss"]
    assert loss == [(k, k / 1000) for k in range(1, 41)]
    # Replayed, not parsed again from the log: the first daemon's records are kept as written.
    assert vouched > 0
    with open(os.path.join(metrics, "points.bin"), "rb") as fh:
        assert fh.read(vouched) == records
    # What the first daemon had handed out is still there, under the same seqs, unless a
    # later repaint of the same step replaced it.
    kept = {p["seq"]: p for p in after}
    for p in before:
        if p["seq"] in kept:
            assert kept[p["seq"]]["value"] == p["value"]
        else:
            assert any(q["name"] == p["name"] and q["step"] == p["step"] for q in after)


async def test_a_new_log_is_followed_even_when_its_time_says_otherwise(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    job = script(
        workdir,
        "skew.py",
        """
        import json, os, time
        time.sleep(1.0)
        d = "data/outputs/2025.07.01/15.10.00_robot_x"
        os.makedirs(d)
        path = os.path.join(d, "logs.json.txt")
        with open(path, "w") as fh:
            fh.write(json.dumps({"train_loss": 0.5, "global_step": 0}) + "\\n")
        past = time.time() - 600  # a file server whose clock lags the node's
        os.utime(path, (past, past))
        time.sleep(1.5)
        """,
    )
    run = await c.launch(
        [sys.executable, job],
        cwd=workdir,
        log_files=["data/outputs/*/*/logs.json.txt"],
        metric_format="dp",
    )
    await wait_status(c, run["id"], {"exited"})
    points = await asyncio.wait_for(c.all_metrics(run["id"]), 30)
    assert [(p["name"], p["value"], p["step"]) for p in points] == [("train_loss", 0.5, 0)]
