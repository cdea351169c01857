"""The agent's catch-up on a long log, end to end: a run whose job prints a whole RDT-like log at
once (`cat LOG`), timed from launch until its metrics are final, with the daemon's CPU. This is
the wait before an adopted run's first full chart. Reference in the same script: `tr '\\r'
'\\n' < LOG | grep -c loss` over the same file, wall and CPU.

    python benchmarks/agent_catchup.py [--size-mb 128]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import cpu_seconds, scratch_dir, timed_cpu, write_training_log
from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport


async def catch_up(log: str) -> tuple[float, float, int]:
    """(seconds to final metrics, daemon CPU seconds, points stored) of one fresh agent."""
    state = tempfile.mkdtemp(prefix="rdt-bench-catchup-", dir="/tmp")
    client = AgentClient(LocalTransport(state))
    try:
        await client.connect()
        daemon = int(client.info["pid"])
        cpu0, t0 = cpu_seconds(daemon), time.perf_counter()
        run = (await client.launch(["cat", log], cwd="/tmp"))["id"]
        while (await client.status(run))["status"] == "running":
            await asyncio.sleep(0.1)
        await client.metrics(run, limit=1, wait_ended=True)
        wall, cpu = time.perf_counter() - t0, cpu_seconds(daemon) - cpu0
        summary = await client.status(run, progress=True)
        return wall, cpu, int(summary.get("metrics_seq") or 0)
    finally:
        await client.close()
        try:
            with open(os.path.join(state, "agent.pid")) as fh:
                os.kill(int(fh.read()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=128)
    args = ap.parse_args()
    log = os.path.join(scratch_dir(), f"train-{args.size_mb}mb.log")
    if not os.path.exists(log) or os.path.getsize(log) < args.size_mb << 20:
        write_training_log(log, args.size_mb << 20)
    mb = os.path.getsize(log) / (1 << 20)
    tr_grep = ["sh", "-c", "tr '\\r' '\\n' < \"$1\" | grep -c loss", "sh", log]
    ref_wall, ref_cpu = min(timed_cpu(tr_grep) for _ in range(3))
    wall, cpu, points = asyncio.run(catch_up(log))
    print(f"log: {mb:.0f} MiB; stored {points} points")
    print(f"agent catch-up: {wall:6.2f} s ({mb / wall:6.1f} MiB/s), daemon CPU {cpu:6.2f} s")
    print(f"tr | grep -c  : {ref_wall:6.2f} s, CPU {ref_cpu:6.2f} s (both processes)")
    print(f"ratio (tr | grep time / ours): wall {ref_wall / wall:.3f}, CPU {ref_cpu / cpu:.3f}")


if __name__ == "__main__":
    main()
