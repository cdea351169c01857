"""The demo trainer as 2 nodes x 1 process under a real Slurm: one srun task per node, each
starting accelerate with the rendezvous from Slurm (gloo on CPU); both ranks save their state."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
from collections.abc import Mapping
from typing import Any

import pytest

from rdt_tui.config.demo import demo_launch_args, ensure_dataset
from rdt_tui.protocol.wire import points_of

from .conftest import Agent
from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None or importlib.util.find_spec("accelerate") is None,
    reason="the training extra (torch, accelerate) is not installed",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def two_node_args(workdir: str) -> dict:
    args = demo_launch_args(workdir, max_steps=30, step_delay=0.0, checkpoint_every=10, keep=2)
    argv = list(args["argv"])
    at = argv.index("--num_processes")
    argv[at + 1] = "{total_processes}"
    at = argv.index("--num_machines")
    argv[at + 1 : at + 2] = [
        *("{num_machines}", "--machine_rank", "{node_rank}"),
        *("--main_process_ip", "{main_process_ip}", "--main_process_port", str(free_port())),
    ]
    return dict(args, argv=argv, scheduler="slurm", slurm={"nodes": 2, "time": "00:10:00"})


@needs_torch
async def test_two_nodes_one_process_each_train_over_gloo_and_both_ranks_save(
    slurm: SlurmLab,  # noqa: F811
    agent: Agent,
    workdir: str,
) -> None:
    ensure_dataset(workdir)
    c = await agent.client()
    run = await c.launch_args(two_node_args(workdir))
    assert run["slurm_job_id"]
    sub = await c.subscribe(run["id"], gpu=False)
    losses: list[Any] = []
    final: Mapping[str, Any] = {}
    async for ev in sub:
        if ev["event"] == "metric":
            losses += [p["step"] for p in points_of(ev["data"]) if p["name"] == "loss"]
        elif ev["event"] == "status" and ev["data"].get("complete"):
            final = ev["data"]
            break
    log = "\n".join((await c.tail(run["id"], 400))["lines"])
    assert final["status"] == "exited" and final["exit_code"] == 0, log
    # Each node's local main process prints the loss: every step, once per node at most.
    assert sorted(set(losses)) == list(range(1, 31)), log
    ck = os.path.join(workdir, "checkpoints", run["id"], "checkpoint-30")  # its own folder
    # One random state per rank: the two nodes' processes trained together.
    assert {"random_states_0.pkl", "random_states_1.pkl"} <= set(os.listdir(ck)), log
    listing = await asyncio.wait_for(c.checkpoints(run["id"]), 30)
    assert [x["step"] for x in listing["checkpoints"]] == [20, 30]
    status = await c.status(run["id"])
    assert status["nodes"] == "n[1-2]"
