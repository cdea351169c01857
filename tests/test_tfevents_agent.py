"""Event files through a real agent run: a job writing with SummaryWriter, `rdt-tui metrics`
showing each point with its source, and the demo trainer's accelerate tracker checked point by
point against TensorBoard's own reader on the same files."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import struct
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from rdt_tui.config.demo import demo_launch_args, ensure_dataset

from .conftest import Agent, wait_status
from .test_cli import rdt, rdt_json
from .tfevents_ref import event_files, tensorboard_scalars

pytest.importorskip("tensorboard")
pytest.importorskip("torch.utils.tensorboard")

JOB = os.path.join(os.path.dirname(__file__), "jobs", "tb_writer.py")


def _launch(state_dir: str, workdir: str, *flags: str, resume: str = "-1", delay: str = "0") -> str:
    argv = [sys.executable, JOB, "logs/run", "300", resume, delay]
    run = rdt_json(
        state_dir,
        "launch",
        "localhost",
        "--cwd",
        workdir,
        "--event-files",
        "logs/**/events.out.tfevents.*",
        *flags,
        "--",
        *argv,
    )
    return str(run["id"])


def _metrics(state_dir: str, run: str) -> list[dict]:
    """Every point, once the run has ended (``metrics`` then waits until all are read)."""
    deadline = time.monotonic() + 120
    while rdt_json(state_dir, "status", "localhost", run)["status"] == "running":
        assert time.monotonic() < deadline, rdt(state_dir, "logs", "localhost", run).stdout
        time.sleep(0.3)
    out = rdt(state_dir, "metrics", "localhost", run, "--json", timeout=180)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout))


def _last_per_step(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    return sorted(dict(points).items())


def _latest(points: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """The later point of each (name, step), in step order: what the chart shows."""
    by_name: dict[str, dict[int, float]] = {}
    for p in sorted(points, key=lambda p: p["seq"]):
        by_name.setdefault(p["name"], {})[p["step"]] = p["value"]
    return {n: sorted(steps.items()) for n, steps in by_name.items()}


def test_a_summarywriter_job_through_the_agent(state_dir: str, workdir: str) -> None:
    # An earlier run's file in the same logs/ is not this run's.
    os.makedirs(os.path.join(workdir, "logs", "old"))
    stale = os.path.join(workdir, "logs", "old", "events.out.tfevents.1.host")
    with open(stale, "wb") as fh:
        fh.write(b"")
    os.utime(stale, (1.0, 1.0))
    run = _launch(state_dir, workdir)
    points = _metrics(state_dir, run)
    expected = tensorboard_scalars(os.path.join(workdir, "logs", "run"))
    # The log's rounded loss may come first; the event file's exact point of each step
    # replaces it (the store and the chart keep the later point of a step).
    assert _latest(points) == expected
    assert {p["source"] for p in points} == {"events"}
    events_loss = [p for p in points if p["name"] == "loss"][-300:]
    assert [(p["step"], p["value"]) for p in events_loss] == expected["loss"]
    # The table says where each point comes from.
    out = rdt(state_dir, "metrics", "localhost", run, "--name", "loss")
    lines = out.stdout.splitlines()[-300:]
    assert all(line.split()[-1] == "events" for line in lines)
    assert [line.split()[:3] for line in lines] == [
        [str(step), "loss", repr(value)] for step, value in expected["loss"]
    ]


def test_metric_source_log_keeps_the_logs_loss(state_dir: str, workdir: str) -> None:
    run = _launch(state_dir, workdir, "--metric-source", "log")
    points = _metrics(state_dir, run)
    loss = [p for p in points if p["name"] == "loss"]
    log = rdt(state_dir, "logs", "localhost", run, "--tail", "3").stdout
    assert {p["source"] for p in loss} == {"log"}, (len(loss), loss[:3], loss[-3:], log)
    assert _latest(points)["loss"][:3] == [(0, 1.0), (1, 0.5), (2, 0.333)]  # the log's rounding
    assert [(p["step"], p["value"]) for p in loss][-2:] == [(298, 0.003), (299, 0.003)]
    lr = [p for p in points if p["name"] == "lr"]
    assert len(lr) == 300 and {p["source"] for p in lr} == {"events"}


def test_a_resumed_job_goes_back_100_steps(state_dir: str, workdir: str) -> None:
    """Steps 0-299, then a resume from step 200 in a second file: every point arrives, and
    the later point of each step (what the chart shows) is the resumed run's."""
    run = _launch(state_dir, workdir, resume="200")
    points = _metrics(state_dir, run)
    logdir = os.path.join(workdir, "logs", "run")
    assert len(event_files(logdir)) == 2
    expected = tensorboard_scalars(logdir)
    # `lr` comes only from the event files: all 600 points, both files', in TensorBoard's order.
    lr = [(p["step"], p["value"]) for p in points if p["name"] == "lr"]
    # A store that keeps every point gives TensorBoard's 600; one that replaces a step's point
    # in place gives the 500 that remain. Either way, the later point of each step wins.
    assert lr == expected["lr"] or lr == _last_per_step(expected["lr"])
    f32 = struct.Struct("<f")

    def value(step: int, phase: int) -> float:
        return float(f32.unpack(f32.pack(1.0 / (step + 1) + 0.0001234567 * phase))[0])

    latest = _latest(points)
    # The later point of each step is the resumed run's: steps 200-299 hold phase 1's values
    # (the log's rounded `loss` too, replaced by the event file's exact one).
    assert latest["loss"] == [(s, value(s, 0 if s < 200 else 1)) for s in range(500)]
    assert [s for s, _ in latest["lr"]] == list(range(500))


def test_a_daemon_killed_mid_run_neither_loses_nor_repeats_a_point(
    state_dir: str, workdir: str
) -> None:
    run = _launch(state_dir, workdir, delay="0.08")  # 24 s of steps
    deadline = time.monotonic() + 60
    while len(rdt_json(state_dir, "metrics", "localhost", run)) < 60:
        assert time.monotonic() < deadline, rdt(state_dir, "logs", "localhost", run).stdout
        time.sleep(0.2)
    status = rdt_json(state_dir, "status", "localhost", run)["status"]
    with open(os.path.join(state_dir, "agent.pid")) as fh:
        os.kill(int(fh.read().strip()), signal.SIGKILL)  # the next command starts a new one
    assert status == "running"  # killed while the watcher was still reading
    points = _metrics(state_dir, run)
    expected = tensorboard_scalars(os.path.join(workdir, "logs", "run"))
    events = [p for p in points if p["source"] == "events"]
    got: dict[str, list[tuple[int, float]]] = {}
    for p in events:
        got.setdefault(p["name"], []).append((p["step"], p["value"]))
    for name in ("lr", "val/mse"):  # only the event file gives them: each point once
        assert got[name] == expected[name]
    assert _latest(points) == expected


needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("accelerate") is None, reason="accelerate is not installed"
)


@needs_torch
@pytest.mark.slow
@pytest.mark.asyncio
async def test_demo_trainer_tensorboard_tracker(agent: Agent, workdir: str) -> None:
    c = await agent.client()
    ensure_dataset(workdir)
    args = demo_launch_args(workdir, max_steps=40, step_delay=0.0, checkpoint_every=20, keep=1)
    args["argv"] += ["--report_to", "tensorboard"]
    # The demo writes into checkpoints/<run id>/ (its own folder per run).
    args["event_files"] = ["checkpoints/*/logs/**/events.out.tfevents.*"]
    run = await c.call("launch", args)
    status = await wait_status(c, run["id"], {"exited", "stopped", "lost"}, timeout=300)
    points = await c.all_metrics(run["id"])
    assert status["exit_code"] == 0, (await c.tail(run["id"], 100))["lines"]
    logdir = os.path.join(workdir, "checkpoints", run["id"], "logs", "demo")
    expected = tensorboard_scalars(logdir)
    assert set(expected) == {"loss", "lr"} and len(expected["loss"]) == 40
    for name in ("loss", "lr"):
        got = [(p["step"], p["value"]) for p in points if p["name"] == name]
        # The bar's rounded loss may come first: the event file's exact points follow it.
        assert got[-40:] == expected[name] and _latest(points)[name] == expected[name]
        assert {p["source"] for p in points if p["name"] == name} == {"events"}
