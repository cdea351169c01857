"""Agent CPU while following a log at 1000 lines/s with 8 simulated GPUs at 1 Hz, over 60 s.

A client stays subscribed to the run and to GPU samples the whole time, as the console does.
We read utime+stime of the daemon and of the `attach` relay from /proc, and run `tail -F` on
the same log beside them as the reference. Target: agent under 1% of one core.

    python benchmarks/agent_cpu.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import LOG_WRITER, cpu_seconds
from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    state = tempfile.mkdtemp(prefix="rdt-bench-", dir="/tmp")
    transport = LocalTransport(state, simulate_gpus=8)
    client = AgentClient(transport)
    await client.connect()
    daemon = int(client.info["pid"])
    run = (await client.launch([sys.executable, LOG_WRITER, str(args.seconds + 5)], cwd=state))[
        "id"
    ]
    log = os.path.join(state, "runs", run, "output.log")
    tail = subprocess.Popen(
        ["tail", "-F", log], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    sub = await client.subscribe(run, gpu=True)
    counts = {"metric": 0, "gpu": 0, "log": 0}

    async def consume() -> None:
        async for ev in sub:
            if ev["event"] == "metric":
                counts["metric"] += len(ev["data"]["points"])
            elif ev["event"] in counts:
                counts[ev["event"]] += 1

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(2)  # past start-up
    with open(os.path.join(state, "runs", run, "state.json")) as fh:
        shim = int(json.load(fh)["shim_pid"])  # it copies the job's output pipe into the log
    pids = {"daemon": daemon, "attach": transport.pid or 0, "shim": shim, "tail -F": tail.pid}
    before = {k: cpu_seconds(p) for k, p in pids.items()}
    c0 = dict(counts)
    t0 = time.monotonic()
    await asyncio.sleep(args.seconds)
    wall = time.monotonic() - t0
    after = {k: cpu_seconds(p) for k, p in pids.items()}
    consumer.cancel()
    pct = {k: 100.0 * (after[k] - before[k]) / wall for k in pids}
    print(
        f"window {wall:.0f} s: {counts['metric'] - c0['metric']} metric points, "
        f"{counts['gpu'] - c0['gpu']} GPU samples (8 SIMULATED GPUs), "
        f"{counts['log'] - c0['log']} log chunks received"
    )
    for k, v in pct.items():
        print(f"{k:8}: {v:6.2f} % of one core")
    agent = pct["daemon"] + pct["attach"] + pct["shim"]
    print(
        f"agent (daemon + attach + shim): {agent:.2f} % of one core (target < 1 %); "
        f"ratio to tail -F: {agent / max(pct['tail -F'], 0.01):.1f}x"
    )
    tail.terminate()
    await client.stop(run, grace=1)
    await client.close()
    os.kill(daemon, signal.SIGTERM)
    shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
