"""Re-attach to a run whose log is 1 GB: time to the first metric-history answer.

A new client (a fresh `attach` process, as after a detach) connects, says hello and asks for
the loss history downsampled to 500 points. Measured with the daemon still up, and after the
daemon was SIGKILLed (the new one loads the kept points from disk instead of re-reading the
log). Compared with what re-reading the log would cost: `grep -c loss` over the same file.
Target: under 1 s.

    python benchmarks/reattach_history.py [--size-mb 1024]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import scratch_dir, timed, write_chatty_log
from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport


async def first_history(state: str, run: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    client = AgentClient(LocalTransport(state))
    await client.connect()
    hist = await client.history(run, points=500, names=["loss"])
    elapsed = time.perf_counter() - t0
    await client.close()
    return elapsed, hist["series"]["loss"]["count"]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    args = ap.parse_args()
    log = os.path.join(scratch_dir(), f"chatty-{args.size_mb}mb.log")
    if not os.path.exists(log) or os.path.getsize(log) < args.size_mb << 20:
        write_chatty_log(log, args.size_mb << 20)
    state = tempfile.mkdtemp(prefix="rdt-bench-", dir="/tmp")
    try:
        client = AgentClient(LocalTransport(state))
        await client.connect()
        t0 = time.perf_counter()
        run = (await client.launch(["cat", log], cwd="/tmp"))["id"]
        while (await client.status(run))["status"] == "running":
            await asyncio.sleep(0.5)
        done = await client.metrics(run, limit=1, wait_ended=True)
        first_parse = time.perf_counter() - t0
        assert done["finished"]
        await client.close()
        warm = [await first_history(state, run) for _ in range(5)]
        with open(os.path.join(state, "agent.pid")) as fh:
            os.kill(int(fh.read()), signal.SIGKILL)
        await asyncio.sleep(0.3)
        cold, count = await first_history(state, run)
        grep_s = statistics.median(timed(["grep", "-c", "loss", log]) for _ in range(3))
        size = os.path.getsize(log) / (1 << 20)
        warm_s = statistics.median(w for w, _ in warm)
        print(
            f"log: {size:.0f} MiB, {count} loss points; "
            f"first parse by the agent {first_parse:.1f} s"
        )
        print(
            f"re-attach + hello + history, daemon up      : {warm_s * 1000:7.1f} ms (median of 5)"
        )
        print(f"re-attach + hello + history, daemon restarted: {cold * 1000:7.1f} ms")
        print(f"re-reading the log (grep -c loss, median of 3): {grep_s * 1000:7.1f} ms")
        print(f"re-reading the log (our own first parse)     : {first_parse * 1000:7.1f} ms")
        print(
            f"restarted re-attach / grep -c over the same log: {cold / grep_s:.2f}x the time; "
            f"daemon up: {warm_s / grep_s:.2f}x  (target: under 1 s)"
        )
    finally:
        with open(os.path.join(state, "agent.pid")) as fh:
            try:
                os.kill(int(fh.read()), signal.SIGTERM)
            except OSError:
                pass
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
