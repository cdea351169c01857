"""Agent CPU while following a log at 1000 lines/s with 8 simulated GPUs at 1 Hz.

A client stays subscribed to the run and to GPU samples the whole time, as the console does.
We read utime+stime from /proc of everything the agent runs for it: the daemon, the `attach`
relay, and the run's shim (it copies the job's output pipe into the log), and run `tail -F` on
the same log beside them as the reference. The figure is the median of ``--runs`` windows of
``--seconds`` each (one sample is noise on a shared machine). Target: agent under 1% of one
core.

``--idle``: instead, a run that prints one line and never a metric (loading a dataset, say),
in its first minutes, when the watcher polls quickly for a first loss.

``--against TREE``: another checkout's agent (an older commit, say) in the same script, its
windows alternating with ours (A B B A A B ...), so a machine whose speed drifts (others share
it: the same code measured 0.8 % one hour and 1.0 % the next) drifts under both alike; prints
both medians and the median of the paired ratios.

    python benchmarks/agent_cpu.py [--seconds 10] [--runs 3] [--idle] [--against TREE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import LOG_WRITER, cpu_seconds, shim_pid
from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport

IDLE_JOB = (
    "import sys, time; print('loading the dataset', flush=True); time.sleep(float(sys.argv[1]))"
)


async def one_window(seconds: int, idle: bool = False) -> dict[str, float]:
    """One fresh agent, run and `tail -F`; their CPU in % of one core over ``seconds``."""
    state = tempfile.mkdtemp(prefix="rdt-bench-", dir="/tmp")
    transport = LocalTransport(state, simulate_gpus=8)
    client = AgentClient(transport)
    await client.connect()
    daemon = int(client.info["pid"])
    job = ["-c", IDLE_JOB] if idle else [LOG_WRITER]
    run = (await client.launch([sys.executable, *job, str(seconds + 5)], cwd=state))["id"]
    log = os.path.join(state, "runs", run, "output.log")
    tail = subprocess.Popen(
        ["tail", "-F", log], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    sub = await client.subscribe(run, gpu=True)
    counts = {"metric": 0, "gpu": 0, "log": 0}

    async def consume() -> None:
        async for ev in sub:
            if ev["event"] == "metric":
                counts["metric"] += sum(len(c["seq"]) for c in ev["data"]["series"].values())
            elif ev["event"] in counts:
                counts[ev["event"]] += 1

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(2)  # past start-up
    shim = shim_pid(state, run)
    pids = {"daemon": daemon, "attach": transport.pid or 0, "shim": shim, "tail -F": tail.pid}
    before = {k: cpu_seconds(p) for k, p in pids.items()}
    c0 = dict(counts)
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    wall = time.monotonic() - t0
    after = {k: cpu_seconds(p) for k, p in pids.items()}
    consumer.cancel()
    pct = {k: 100.0 * (after[k] - before[k]) / wall for k in pids}
    pct["agent"] = pct["daemon"] + pct["attach"] + pct["shim"]
    print(
        f"  window {wall:.0f} s: {counts['metric'] - c0['metric']} metric points, "
        f"{counts['gpu'] - c0['gpu']} GPU samples (8 SIMULATED GPUs), "
        f"{counts['log'] - c0['log']} log chunks; "
        + ", ".join(f"{k} {v:.2f} %" for k, v in pct.items()),
        flush=True,
    )
    tail.terminate()
    tail.wait()
    await client.stop(run, grace=1)
    await client.close()
    os.kill(daemon, signal.SIGTERM)
    shutil.rmtree(state, ignore_errors=True)
    return pct


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--idle", action="store_true", help="a run that never prints a metric")
    ap.add_argument("--against", metavar="TREE", help="another checkout, windows alternating")
    args = ap.parse_args()
    what = "an idle run without metrics" if args.idle else "1,000 lines/s"
    if args.against:
        await against(os.path.abspath(args.against), args.seconds, args.runs, args.idle, what)
        return
    print(f"{args.runs} windows of {args.seconds} s, each with a fresh agent, {what}:")
    windows = [await one_window(args.seconds, args.idle) for _ in range(args.runs)]
    median = {k: statistics.median(w[k] for w in windows) for k in windows[0]}
    for k in ("daemon", "attach", "shim", "tail -F"):
        print(f"{k:8}: median {median[k]:6.2f} % of one core")
    print(
        f"agent (daemon + attach + shim): median {median['agent']:.2f} % of one core "
        "(target < 1 %); "
        f"ratio to tail -F: {median['agent'] / max(median['tail -F'], 0.01):.1f}x"
    )


async def against(other: str, seconds: int, runs: int, idle: bool, what: str) -> None:
    """``runs`` pairs of windows, this checkout's agent and ``other``'s, in alternating order.
    The daemon is started as ``python -m rdt_tui.agent``: PYTHONPATH picks whose it is."""
    ours = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"{runs} pairs of {seconds} s windows, {what}: {ours} (A) against {other} (B)")
    got: dict[str, list[dict[str, float]]] = {ours: [], other: []}
    saved = os.environ.get("PYTHONPATH")
    os.chdir(tempfile.gettempdir())  # `python -m` looks in its cwd first: a checkout's root
    try:
        for i in range(runs):
            for tree in (ours, other) if i % 2 == 0 else (other, ours):
                os.environ["PYTHONPATH"] = tree
                print(f"  {'A' if tree == ours else 'B'}:", end="", flush=True)
                got[tree].append(await one_window(seconds, idle))
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    for name, tree in (("A", ours), ("B", other)):
        med = {k: statistics.median(w[k] for w in got[tree]) for k in ("daemon", "agent")}
        print(f"{name}: daemon median {med['daemon']:.2f} %, agent median {med['agent']:.2f} %")
    pairs = zip(got[ours], got[other], strict=True)
    ratios = [a["agent"] / max(b["agent"], 0.01) for a, b in pairs]
    print(
        f"agent A/B per pair: {' '.join(f'{r:.2f}' for r in ratios)}; "
        f"median {statistics.median(ratios):.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
