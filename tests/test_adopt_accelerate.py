"""Real 2-process accelerate runs of the demo trainer started by hand, the way users start
them today, then adopted: one under ``nohup ... > train.log 2>&1 &`` (stopped through us),
one in a detached tmux session (left to finish), one in tmux writing to the pane."""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys

import pytest

from rdt_tui.agent.procs import process_table, start_time
from rdt_tui.client import AgentCallError
from rdt_tui.core.metrics import parse_text
from rdt_tui.protocol.messages import Candidate, Point

from .adopt_jobs import (
    alive,
    decoy_argv,
    has_tmux,
    job_env,
    kill_tree,
    read,
    shell,
    train_argv,
    tree,
    wait_for,
)
from .conftest import Agent, wait_status

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("torch") is None or importlib.util.find_spec("accelerate") is None,
        reason="the training extra (torch, accelerate) is not installed",
    ),
]


def points_of(text: str) -> dict[tuple[str, int | None], float]:
    return {(p.name, p.step): float(p.value) for p in parse_text(text)}


def got_points(points: list[Point]) -> dict[tuple[str, int | None], float]:
    return {(p["name"], p["step"]): p["value"] for p in points}


def training(log: str) -> bool:
    try:
        with open(log, errors="replace") as fh:
            return "loss" in fh.read()
    except OSError:
        return False


@pytest.mark.asyncio
async def test_nohup_run_is_listed_adopted_followed_and_stopped_alone(
    agent: Agent, workdir: str
) -> None:
    log = os.path.join(workdir, "train.log")
    pid, bait = shell(workdir, train_argv(workdir, steps=5000, delay=0.05), decoy_argv())
    bait_start = start_time(bait)
    try:
        wait_for(lambda: len(tree(pid)) >= 3 and training(log), 180, "both ranks training")
        c = await agent.client()
        found = {x["pid"]: x for x in await c.candidates()}
        assert pid in found, found
        seen = found[pid]
        assert seen["cwd"] == workdir and seen["log"] == log and seen["stdout"] == "file"
        assert seen["launcher"] == "accelerate" and seen["processes"] == len(tree(pid)) >= 3
        assert not any(p in found for p in tree(pid) - {pid})  # the ranks fold into it
        run = await c.adopt(pid, name="byhand")
        assert run["kind"] == "adopted" and run["status"] == "running" and run["log"] == log
        assert set(run["pids"]) == tree(pid)
        # Checkpoints from the command line's --output_dir (relative to the run's cwd).
        wait_for(lambda: os.path.isdir(os.path.join(workdir, "out", "checkpoint-10")), 120, "ck")
        listing = await c.checkpoints(run["id"])
        assert listing["directory"] == os.path.join(workdir, "out")
        assert "checkpoint-10" in [x["name"] for x in listing["checkpoints"]]
        members = tree(pid)
        stopped = await c.stop(run["id"], grace=10)
        assert stopped["status"] == "stopped" and stopped["exit_code_known"] is False
        table = process_table()
        assert not [p for p in members if p in table], "a process of the run survived"
        assert alive(bait, bait_start)  # same user, session and group, a similar command line
        text = read(log)
        got = got_points(await c.all_metrics(run["id"]))
        assert got == points_of(text) and min(s for _, s in got if s is not None) == 1
    finally:
        kill_tree(tree(pid) | ({bait} if alive(bait, bait_start) else set()))


def tmux(*args: str) -> None:
    subprocess.run(["tmux", *args], check=True, env=job_env(), timeout=30)


@pytest.mark.skipif(not has_tmux(), reason="tmux is not installed")
@pytest.mark.asyncio
async def test_tmux_runs_one_to_a_file_one_to_the_pane(agent: Agent, workdir: str) -> None:
    sock = os.path.join(workdir, "tmux.sock")
    log = os.path.join(workdir, "tmux.log")
    to_file = shlex.join(train_argv(workdir, steps=40, delay=0.1)) + " > tmux.log 2>&1"
    to_pane = f"{sys.executable} -c 'import time; print(\"loss=1\"); time.sleep(600)'"
    tmux("-S", sock, "new-session", "-d", "-s", "training", "-c", workdir, to_file)
    tmux("-S", sock, "new-session", "-d", "-s", "pane", "-c", workdir, to_pane)
    try:
        c = await agent.client()

        async def listed() -> dict[int, Candidate]:
            return {int(x["pid"]): x for x in await c.candidates()}

        wait_for(lambda: training(log), 180, "the tmux run training")
        found = await listed()
        mine = [x for x in found.values() if x["log"] == log]
        assert len(mine) == 1 and mine[0]["cwd"] == workdir and mine[0]["launcher"] == "accelerate"
        pid = int(mine[0]["pid"])
        run = await c.adopt(pid)
        assert run["status"] == "running"
        final = await wait_status(c, run["id"], {"ended"}, timeout=300)
        assert final["exit_code"] is None and final["exit_code_known"] is False
        got = got_points(await c.all_metrics(run["id"]))
        assert got == points_of(read(log))
        assert max(s for _, s in got if s is not None) == 40
        listing = await c.checkpoints(run["id"])
        assert [x["name"] for x in listing["checkpoints"]] == ["checkpoint-30", "checkpoint-40"]

        # A python writing to its tmux pane: no log file, so --log is asked for.
        pane = subprocess.run(
            ["tmux", "-S", sock, "list-panes", "-t", "pane", "-F", "#{pane_pid}"],
            capture_output=True,
            text=True,
            check=True,
        )
        pane_pid = int(pane.stdout.split()[0])
        with pytest.raises(AgentCallError, match="goes to a terminal") as err:
            await c.adopt(pane_pid)
        assert "--log" in err.value.hint
        with open(os.path.join(workdir, "pane.log"), "w") as fh:
            fh.write("step=1 loss=0.5\n")
        taken = await c.adopt(pane_pid, log="pane.log")
        assert taken["log"] == os.path.join(workdir, "pane.log") and taken["status"] == "running"
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], timeout=30)
