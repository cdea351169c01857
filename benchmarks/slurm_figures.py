"""Figures of runs under Slurm, on the tests' real Slurm (tests/slurm_lab.py; root, and the
packages slurmctld slurmd slurm-client munge):

1. Submit -> first metric point: `launch_args` of a Slurm run through the agent, then its
   first metric event on a subscription; against the reference in the same script: `sbatch`
   of the same job by hand and polling its output file every 50 ms for the first loss line.
2. The queue screen with 500 held jobs (`sbatch --hold`): time to its first paint with rows
   (and the console's CPU time to it, which the machine's load does not stretch), to the first
   full table, and keypresses (down) answered, p95.

    python benchmarks/slurm_figures.py [--rounds 5] [--jobs 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.slurm_lab import SlurmLab, missing

JOB = "import time\nprint('step=1 loss=0.5', flush=True)\ntime.sleep(1)\n"


async def via_agent(state: str, workdir: str, job: str) -> float:
    from rdt_tui.client import AgentClient
    from rdt_tui.transport.local import LocalTransport

    async with AgentClient(LocalTransport(state)) as c:
        await c.runs()  # the daemon is up: its start is not the submit's cost
        t0 = time.perf_counter()
        run = await c.launch_args(
            {"argv": [sys.executable, job], "cwd": workdir, "scheduler": "slurm", "slurm": {}}
        )
        sub = await c.subscribe(run["id"], gpu=False)
        async for ev in sub:
            if ev["event"] == "metric" and ev["data"]["count"]:
                return time.perf_counter() - t0
    raise RuntimeError("no metric point")


def by_hand(lab: SlurmLab, workdir: str, job: str, n: int) -> float:
    script = os.path.join(workdir, f"hand{n}.sh")
    out = os.path.join(workdir, f"hand{n}.out")
    with open(script, "w") as fh:
        fh.write(f"#!/bin/bash\nexec {sys.executable} -u {job}\n")
    t0 = time.perf_counter()
    lab.run("sbatch", "--parsable", f"--output={out}", script)
    while True:
        try:
            with open(out) as fh:
                if "loss=" in fh.read():
                    return time.perf_counter() - t0
        except FileNotFoundError:
            pass
        time.sleep(0.05)


async def queue_view(state: str, jobs: int) -> tuple[float, float, float, list[float]]:
    """The queue screen pushed: (first paint with rows, its CPU time in this process, first
    full table, keypresses). The first paint is the refresh after the first rows arrived."""
    from textual.app import App
    from textual.widgets import DataTable

    from rdt_tui.client import AgentClient
    from rdt_tui.transport.local import LocalTransport
    from rdt_tui.tui.screens.queue_screen import QueueScreen

    client = AgentClient(LocalTransport(state))
    await client.connect()

    class Bench(App[None]):
        pass

    app = Bench()
    async with app.run_test(size=(120, 40)) as pilot:
        t0, c0 = time.perf_counter(), time.process_time()
        await app.push_screen(QueueScreen(client))
        table = app.screen.query_one("#queue", DataTable)
        while table.row_count == 0:
            await asyncio.sleep(0.002)
        painted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        app.call_after_refresh(painted.set_result, None)
        await painted
        paint, paint_cpu = time.perf_counter() - t0, time.process_time() - c0
        while table.row_count < jobs:
            await asyncio.sleep(0.005)
        await pilot.pause()
        first = time.perf_counter() - t0
        table.focus()
        keys = []
        for _ in range(40):
            t = time.perf_counter()
            await pilot.press("down")
            keys.append(time.perf_counter() - t)
    await client.close()
    return paint, paint_cpu, first, keys


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, round(0.95 * len(xs)) - 1)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=500)
    a = ap.parse_args()
    reason = missing()
    if reason:
        print("skipped:", reason)
        return 0
    lab = SlurmLab(tempfile.mkdtemp(prefix="rdt-slurm-", dir="/tmp"))
    os.environ["SLURM_CONF"] = lab.conf
    state = tempfile.mkdtemp(prefix="rdt-b-", dir="/tmp")
    workdir = tempfile.mkdtemp(prefix="rdt-bw-", dir="/tmp")
    job = os.path.join(workdir, "job.py")
    with open(job, "w") as fh:
        fh.write(JOB)
    try:
        lab.start()
        ours, hand = [], []
        for n in range(a.rounds):  # interleaved, so both see the same load
            ours.append(asyncio.run(via_agent(state, workdir, job)))
            hand.append(by_hand(lab, workdir, job, n))
        mo, mh = statistics.median(ours), statistics.median(hand)
        print(f"submit -> first metric point, median of {a.rounds}:")
        print(f"  rdt-tui (launch + subscription)   {mo * 1000:8.0f} ms")
        print(f"  by hand (sbatch + poll 50 ms)     {mh * 1000:8.0f} ms")
        print(f"  ratio                             {mo / mh:8.2f}x  (target <= 1.2x)")
        lab.run("scancel", "--user", "root", check=False)
        wrap = os.path.join(workdir, "held.sh")
        with open(wrap, "w") as fh:
            fh.write("#!/bin/bash\ntrue\n")
        t = time.perf_counter()
        for i in range(a.jobs):
            lab.run("sbatch", "--hold", f"--job-name=held{i}", "--output=/dev/null", wrap)
        print(f"submitted {a.jobs} held jobs in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        lab.run("squeue", "-h", "--user=root", "-o", "%i|%j|%T|%r|%M|%D|%N|%S")
        squeue_ms = (time.perf_counter() - t) * 1000
        views = [asyncio.run(queue_view(state, a.jobs)) for _ in range(a.rounds)]
        paint = statistics.median(v[0] for v in views)
        paint_cpu = statistics.median(v[1] for v in views)
        first = statistics.median(v[2] for v in views)
        keys = [k for v in views for k in v[3]]
        print(f"reference: squeue of {a.jobs} jobs by hand {squeue_ms:.0f} ms")
        print(
            f"queue screen, {a.jobs} jobs, median of {a.rounds}: first paint {paint * 1000:.0f} ms "
            f"(console CPU {paint_cpu * 1000:.0f} ms; target < 100 ms), "
            f"first full table {first * 1000:.0f} ms"
        )
        print(
            f"  keypress (down): p50 {statistics.median(keys) * 1000:.1f} ms, "
            f"p95 {p95(keys) * 1000:.1f} ms  (target p95 < 100 ms)"
        )
    finally:
        lab.stop()
        pid_file = os.path.join(state, "agent.pid")
        if os.path.exists(pid_file):
            with open(pid_file) as fh:
                try:
                    os.kill(int(fh.read().strip()), 15)
                except (OSError, ValueError):
                    pass
        for d in (lab.root, state, workdir):
            shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
