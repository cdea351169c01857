"""`rdt-tui metrics HOST RUN RUN --format csv|jsonl`: two real runs of a small job on a real local
agent, launched with different flags, printing different losses; the aligned output is checked
value by value."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import textwrap

import pytest

from rdt_tui.client import AgentClient

from .conftest import Agent, wait_status
from .test_cli import rdt

pytestmark = pytest.mark.asyncio

JOB = textwrap.dedent(
    """
    import argparse, time
    p = argparse.ArgumentParser()
    p.add_argument("--learning_rate", type=float)
    p.add_argument("--train_batch_size", type=int)
    p.add_argument("--steps", type=int)
    p.add_argument("--skip", type=int, default=0)
    p.add_argument("--sleep", type=float, default=0.05)
    p.add_argument("--extra", action="store_true")
    a = p.parse_args()
    for step in range(1, a.steps + 1):
        if step == a.skip:
            continue
        loss = a.learning_rate * 10 / step
        print(f"step={step} loss={loss:.4f} lr={a.learning_rate}", flush=True)
        if a.extra:
            print(f"step={step} grad_norm={step / 10}", flush=True)
        time.sleep(a.sleep)
    """
)


def write_job(workdir: str) -> str:
    path = os.path.join(workdir, "train.py")
    with open(path, "w") as fh:
        fh.write(JOB)
    return path


async def two_runs(agent: Agent, workdir: str, sleep: float = 0.05) -> tuple[AgentClient, str, str]:
    """Run a: lr 0.1, batch 8, steps 1-4. Run b: lr 0.2, batch 8, steps 1-6 without step 3."""
    c = await agent.client()
    job = write_job(workdir)
    flags = ["--train_batch_size", "8", "--sleep", str(sleep)]
    a = await c.launch(
        [sys.executable, job, "--learning_rate", "0.1", *flags, "--steps", "4"],
        cwd=workdir,
        name="a",
    )
    b = await c.launch(
        [sys.executable, job, "--learning_rate", "0.2", *flags, "--steps", "6", "--skip", "3"],
        cwd=workdir,
        name="b",
    )
    for run in (a["id"], b["id"]):
        assert (await wait_status(c, run, {"exited"}))["exit_code"] == 0
    return c, a["id"], b["id"]


async def test_csv_and_jsonl_align_two_runs_by_step_value_by_value(
    agent: Agent, workdir: str
) -> None:
    _, a, b = await two_runs(agent, workdir)
    out = rdt(agent.state_dir, "metrics", "localhost", a, b, "--name", "loss", "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert rows == [
        ["step", a, b],
        ["1", "1.0", "2.0"],
        ["2", "0.5", "1.0"],
        ["3", "0.3333", ""],  # b skipped step 3: an empty cell, not a shifted column
        ["4", "0.25", "0.5"],
        ["5", "", "0.4"],  # a stopped at 4
        ["6", "", "0.3333"],
    ]
    out = rdt(agent.state_dir, "metrics", "localhost", a, b, "--name", "loss", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    docs = [json.loads(line) for line in out.stdout.splitlines()]
    assert docs == [
        {"step": 1, a: 1.0, b: 2.0},
        {"step": 2, a: 0.5, b: 1.0},
        {"step": 3, a: 0.3333, b: None},
        {"step": 4, a: 0.25, b: 0.5},
        {"step": 5, a: None, b: 0.4},
        {"step": 6, a: None, b: 0.3333},
    ]
    # Another metric by name; the runs in the order given.
    out = rdt(agent.state_dir, "metrics", "localhost", b, a, "--name", "lr", "--format", "csv")
    assert out.stdout.splitlines()[:2] == [f"step,{b},{a}", "1,0.2,0.1"]


async def test_by_time_counts_seconds_from_each_runs_start(agent: Agent, workdir: str) -> None:
    # Slow enough that the agent (reading once a second) stamps the points in several batches.
    c, a, b = await two_runs(agent, workdir, sleep=0.6)
    expected: dict[str, list[tuple[float, float]]] = {}
    for run in (a, b):
        start = (await c.status(run))["started_at"]
        assert start is not None
        expected[run] = [
            (round((p["t"] or 0.0) - start, 3), p["value"])
            for p in await c.all_metrics(run)
            if p["name"] == "loss"
        ]
    out = rdt(agent.state_dir, "metrics", "localhost", a, b, "--by", "time", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    docs = [json.loads(line) for line in out.stdout.splitlines()]
    for run in (a, b):
        got = [(d["seconds"], d[run]) for d in docs if d[run] is not None]
        assert got == expected[run]
    assert [v for _, v in expected[a]] == [1.0, 0.5, 0.3333, 0.25]
    seconds = [d["seconds"] for d in docs]
    assert seconds == sorted(seconds) and seconds[0] >= 0


async def test_one_run_without_format_keeps_the_listing_of_points(
    agent: Agent, workdir: str
) -> None:
    _, a, b = await two_runs(agent, workdir)
    out = rdt(agent.state_dir, "metrics", "localhost", a, "--name", "loss")
    assert out.returncode == 0, out.stderr
    # The single-run listing, with where each point came from (the log, not an event file).
    assert out.stdout.splitlines()[0].split() == ["1", "loss", "1.0", "log"]
    assert len(out.stdout.splitlines()) == 4
    bad = rdt(agent.state_dir, "metrics", "localhost", a, b, "--name", "loss", "--name", "lr")
    assert bad.returncode == 1 and "one metric" in bad.stderr and "Traceback" not in bad.stderr
    none = rdt(agent.state_dir, "metrics", "localhost", a, b, "--name", "acc", "--format", "csv")
    assert none.returncode == 1 and "no 'acc' points" in none.stderr
    # Several runs with --json: one document, the same rows as JSON Lines.
    doc = json.loads(rdt(agent.state_dir, "metrics", "localhost", a, b, "--json").stdout)
    assert doc[0] == {"step": 1, a: 1.0, b: 2.0} and len(doc) == 6
    gone = rdt(agent.state_dir, "metrics", "localhost", a, "no-such-run", "--format", "csv")
    assert gone.returncode == 1 and "no-such-run" in gone.stderr
    assert "Traceback" not in gone.stderr
