"""One job across two nodes: two agents (two state dirs on loopback, as two hosts would be),
the demo trainer as 2 machines x 1 process with gloo on the CPU, merged metrics, and a dead
node's group stopping the other."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator

import pytest

from rdt_tui.client import AgentClient
from rdt_tui.client.group import launch_group, watch_group
from rdt_tui.config.demo import ensure_dataset
from rdt_tui.config.profiles import load_profile
from rdt_tui.protocol.messages import Event
from rdt_tui.protocol.wire import points_of
from rdt_tui.transport.local import LocalTransport

from .conftest import _kill_runs_of, _stop_daemon, kill_run
from .sshd import free_port
from .test_demo_accelerate import needs_torch

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]


@pytest.fixture
async def nodes() -> AsyncIterator[dict[str, AgentClient]]:
    dirs = {name: tempfile.mkdtemp(prefix=f"rdt-{name}-", dir="/tmp") for name in ("a", "b")}
    clients = {f"node-{n}": AgentClient(LocalTransport(d)) for n, d in dirs.items()}
    for c in clients.values():
        await c.connect()
    yield clients
    for c in clients.values():
        await c.close()
    for d in dirs.values():
        _kill_runs_of(d)
        _stop_daemon(d)
        shutil.rmtree(d, ignore_errors=True)


def demo_profile(workdir: str, port: int, steps: int, delay: float) -> str:
    ensure_dataset(workdir)
    path = os.path.join(workdir, "two-nodes.toml")
    out = os.path.join(workdir, "checkpoints")
    with open(path, "w") as fh:
        fh.write(
            f'name = "two-nodes"\nhosts = ["node-a", "node-b"]\n'
            f'main_process_ip = "127.0.0.1"\nmain_process_port = {port}\n'
            f'command = ["{sys.executable}", "-m", "accelerate.commands.launch", "--multi_gpu", '
            '"--num_processes", "{total_processes}", "--num_machines", "{num_machines}", '
            '"--machine_rank", "{node_rank}", "--main_process_ip", "{main_process_ip}", '
            '"--main_process_port", "{main_process_port}", "--dynamo_backend", "no", '
            '"--mixed_precision", "no", "-m", "rdt_tui.demo.train", "--data", '
            f'"{os.path.join(workdir, "libero_demo.hdf5")}", "--output-dir", "{out}", '
            f'"--max-steps", "{steps}", "--checkpoint-every", "10", "--keep", "2", '
            f'"--step-delay", "{delay}"]\n'
            f'cwd = "{workdir}"\nmetric_format = "rdt"\ncheckpoint_dir = "{out}"\n'
            '[env]\nACCELERATE_USE_CPU = "1"\nOMP_NUM_THREADS = "1"\n[form]\nprocesses = 1\n'
        )
    return path


@needs_torch
async def test_two_nodes_train_one_job_and_metrics_arrive(
    nodes: dict[str, AgentClient], workdir: str
) -> None:
    profile = load_profile(demo_profile(workdir, free_port(), steps=20, delay=0.0))
    report = await launch_group(nodes, profile)
    losses: list[tuple[str, int | None]] = []

    def on_event(host: str, ev: Event) -> None:
        if ev["event"] == "metric":
            losses.extend((host, p["step"]) for p in points_of(ev["data"]) if p["name"] == "loss")

    await watch_group(nodes, report, on_event=on_event)
    assert report.ok, report.summary()
    assert report.first_dead is None
    assert {step for _, step in losses} >= set(range(1, 21))  # rank 0 reports every step
    ckpt = os.path.join(workdir, "checkpoints", "checkpoint-20")
    # A random state per rank, one from each node: both ranks trained.
    assert {"random_states_0.pkl", "random_states_1.pkl"} <= set(os.listdir(ckpt))
    for host, run in report.runs.items():
        status = await nodes[host].status(run)
        assert status["group"] == report.group
        argv = status["argv"] or []
        assert "--machine_rank" in argv
        rank = argv[argv.index("--machine_rank") + 1]
        assert rank == ("0" if host == "node-a" else "1")


@needs_torch
async def test_a_dead_node_stops_the_other_and_is_named(
    nodes: dict[str, AgentClient], workdir: str
) -> None:
    profile = load_profile(demo_profile(workdir, free_port(), steps=100000, delay=0.05))
    report = await launch_group(nodes, profile)
    seen: list[int | None] = []

    async def kill_b_when_training() -> None:
        while len(seen) < 5:
            await asyncio.sleep(0.2)
        kill_run(report.runs["node-b"])  # a death, not a stop someone asked for

    def on_event(host: str, ev: Event) -> None:
        if ev["event"] == "metric":
            seen.extend(p["step"] for p in points_of(ev["data"]) if p["name"] == "loss")

    killer = asyncio.ensure_future(kill_b_when_training())
    await asyncio.wait_for(watch_group(nodes, report, on_event=on_event, grace=5), 180)
    await killer
    assert report.first_dead == "node-b", report.summary()
    assert report.final["node-a"]["status"] in ("stopped", "exited")
    assert not report.ok
    assert "node-b died first" in report.summary()
