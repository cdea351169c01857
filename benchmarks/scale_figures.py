"""How cost grows with the work: many runs, many points, many live runs.

1. `rdt-tui runs localhost` with 1,000 finished runs in the state directory (real run
   directories as the agent writes them: one finished run copied 1,000 times with new ids and
   specs). Timed as a new process (start-up included) and as the agent's answer alone, beside
   `rdt-tui runs` with one run (the fixed cost) and `cat` of the same run files (the reference
   for reading them). Target: under 0.5 s.
2. Re-attach to a finished run with 10 million stored points (written with the agent's own
   MetricStore, as bar blocks), after a daemon restart: time to the first history answer
   (500 points, one series; the dashboard's first paint asks for it), and the daemon's
   resident memory then, beside an idle daemon's and `cat` of the same files. Target: under
   1 s, memory bounded.
3. The agent following N live runs at 100 lines/s each (N = 1, 5, 20) with one client
   subscribed to one of them: the CPU per run of the daemon and of the runs' shims (one per
   run, copying its output into the log), and how it grows with N.

    python benchmarks/scale_figures.py [--runs 1000] [--points 10000000] [--live 1,5,20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import cpu_seconds, shim_pid
from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.client import AgentClient
from rdt_tui.core.parsed import ParsedPoints
from rdt_tui.transport.local import LocalTransport

WRITER = (
    "import sys, time\n"
    "n = int(sys.argv[1])\n"
    "for i in range(1, n + 1):\n"
    "    print(f'step={i} loss={1 / i:.6f} lr=0.0001', flush=True)\n"
    "    time.sleep(0.01)\n"
)


def cli_ms(state: str, *args: str) -> float:
    env = dict(os.environ, RDT_TUI_STATE_DIR=state)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    return (time.perf_counter() - t0) * 1000


def stop_daemon(state: str) -> None:
    try:
        with open(os.path.join(state, "agent.pid")) as fh:
            os.kill(int(fh.read()), signal.SIGTERM)
    except (OSError, ValueError):
        pass
    time.sleep(0.3)


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident memory; ``RssAnon`` leaves out pages of mapped files (the kernel's to take)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


async def finished_run(state: str, argv: list[str]) -> str:
    client = AgentClient(LocalTransport(state))
    await client.connect()
    run = str((await client.launch(argv, cwd="/tmp"))["id"])
    while (await client.status(run))["status"] == "running":
        await asyncio.sleep(0.2)
    await client.metrics(run, limit=1, wait_ended=True)
    await client.close()
    return run


async def many_runs(root: str, count: int) -> None:
    state = os.path.join(root, "many")
    run = await finished_run(state, ["sh", "-c", "echo step=1 loss=0.5"])
    one_cli = statistics.median(cli_ms(state, "runs", "localhost") for _ in range(3))
    stop_daemon(state)
    runs = os.path.join(state, "runs")
    for i in range(count - 1):
        new = f"{run}-copy{i:04d}"
        shutil.copytree(os.path.join(runs, run), os.path.join(runs, new))
        spec_path = os.path.join(runs, new, "spec.json")
        with open(spec_path) as fh:
            spec = json.load(fh)
        spec.update(id=new, name=f"copy {i}")
        with open(spec_path, "w") as fh:
            json.dump(spec, fh)
    files = [
        os.path.join(runs, r, f)
        for r in os.listdir(runs)
        for f in ("spec.json", "state.json", "exit.json")
        if os.path.exists(os.path.join(runs, r, f))
    ]
    t0 = time.perf_counter()
    subprocess.run(["cat", *files], stdout=subprocess.PIPE, check=True)
    cat_ms = (time.perf_counter() - t0) * 1000
    cli_ms(state, "runs", "localhost")  # starts the daemon again
    many_cli = statistics.median(cli_ms(state, "runs", "localhost") for _ in range(5))
    client = AgentClient(LocalTransport(state))
    await client.connect()
    answers = []
    for _ in range(5):
        t0 = time.perf_counter()
        listed = await client.runs()
        answers.append((time.perf_counter() - t0) * 1000)
    await client.close()
    stop_daemon(state)
    assert len(listed) == count, len(listed)
    print(
        f"`rdt-tui runs localhost` with {count} finished runs: {many_cli:.0f} ms as a new "
        f"process (median of 5; with 1 run {one_cli:.0f} ms), the agent's answer alone "
        f"{statistics.median(answers):.0f} ms; reference `cat` of the same "
        f"{len(files)} run files {cat_ms:.0f} ms  (target < 500 ms)"
    )


async def many_points(root: str, points: int) -> None:
    state = os.path.join(root, "points")
    run = await finished_run(state, ["sh", "-c", "echo step=1 loss=0.5"])
    stop_daemon(state)
    store = MetricStore(os.path.join(state, "runs", run, "metrics"))
    cursor = store.load() or {}
    t0 = time.perf_counter()
    now = time.time()
    batch = 100_000
    step = 1
    while store.last_seq < points:
        n = min(batch, points - store.last_seq)
        block = ParsedPoints()  # as the parser hands a run of tqdm bars to the store
        block.block(("loss",), list(range(step, step + n)), [[1.0 / (step + i) for i in range(n)]])
        store.append(block, now)
        step += n
    extra = {k: v for k, v in cursor.items() if k not in ("last_seq", "counts")}
    store.save_cursor(extra)
    store.close()
    write_s = time.perf_counter() - t0
    columns = [
        os.path.join(store.directory, f)
        for f in os.listdir(store.directory)
        if not f.endswith(".json")
    ]
    size = sum(os.path.getsize(c) for c in columns) / (1 << 20)
    t0 = time.perf_counter()
    subprocess.run(["cat", *columns], stdout=subprocess.PIPE, check=True)
    cat_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    client = AgentClient(LocalTransport(state))
    await client.connect()
    hello_ms = (time.perf_counter() - t0) * 1000
    hist = await client.history(run, points=500, names=["loss"])
    first_ms = (time.perf_counter() - t0) * 1000
    daemon = int(client.info["pid"])
    rss, anon = rss_mib(daemon), rss_mib(daemon, "RssAnon")
    idle_rss = await idle_daemon_rss(os.path.join(root, "idle"))
    t0 = time.perf_counter()
    await client.history(run, points=500, names=["loss"])
    again_ms = (time.perf_counter() - t0) * 1000
    await client.close()
    stop_daemon(state)
    paint_ms = await dashboard_paint_ms(state, run)
    stop_daemon(state)
    got = hist["series"]["loss"]["count"]
    print(
        f"re-attach to a run with {got:,} stored points ({size:.0f} MiB of columns, written in "
        f"{write_s:.0f} s), daemon restarted: first history answer {first_ms:.0f} ms (of which "
        f"starting the daemon + hello {hello_ms:.0f} ms), the next "
        f"{again_ms:.0f} ms (from per-block summaries, {len(hist['series']['loss']['step'])} "
        f"points); daemon RSS then {rss:.0f} MiB, {anon:.0f} MiB of it its own (the finished "
        f"run's columns are mapped, not loaded), {idle_rss:.0f} MiB for a daemon holding no "
        f"run; reference `cat` of the "
        f"columns {cat_ms:.0f} ms  (target < 1 s, memory bounded)"
    )
    print(
        f"  the dashboard on that run, daemon restarted again: the loss chart drawn "
        f"{paint_ms:.0f} ms after the console started connecting (headless Textual, 120x40)"
    )


async def dashboard_paint_ms(state: str, run: str) -> float:
    """From the console's connect to the loss chart drawn with the run's history."""
    from rdt_tui.tui.app import make_app
    from rdt_tui.tui.widgets.loss_chart import LossChart

    async def open_run() -> tuple[AgentClient, str]:
        client = AgentClient(LocalTransport(state))
        await client.connect()
        return client, run

    app = make_app(open_run)
    async with app.run_test(size=(120, 40)) as pilot:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 60:
            charts = app.screen.query(LossChart)
            if charts and charts.first()._drawn[0]:
                break
            await asyncio.sleep(0.01)
        painted = (time.perf_counter() - t0) * 1000
        await pilot.press("q")
    return painted


async def idle_daemon_rss(state: str) -> float:
    """The reference for memory: a daemon of the same code that holds no run."""
    client = AgentClient(LocalTransport(state))
    await client.connect()
    rss = rss_mib(int(client.info["pid"]))
    await client.close()
    stop_daemon(state)
    return rss


async def consume(sub: object, got: dict[str, int]) -> None:
    async for ev in sub:  # type: ignore[attr-defined]
        if ev["event"] == "metric":  # columns per name (protocol.messages.MetricColumnsWire)
            got["points"] += sum(len(c["seq"]) for c in ev["data"]["series"].values())


async def parsed(client: AgentClient, ids: list[str]) -> int:
    """Points the agent has parsed from these runs so far."""
    total = 0
    for run in ids:
        total += int((await client.call("status", {"run": run, "progress": True}))["metrics_seq"])
    return total


async def live_runs(root: str, counts: list[int], seconds: float) -> None:
    rows: list[tuple[int, float, float, float, float]] = []
    for n in counts:
        state = os.path.join(root, f"live{n}")
        client = AgentClient(LocalTransport(state))
        await client.connect()
        daemon = int(client.info["pid"])
        lines = int((seconds + 10) * 100)
        ids = [
            (await client.launch([sys.executable, "-c", WRITER, str(lines)], cwd="/tmp"))["id"]
            for _ in range(n)
        ]
        sub = await client.subscribe(ids[0], gpu=False)
        got = {"points": 0}

        consumer = asyncio.create_task(consume(sub, got))
        await asyncio.sleep(3)  # past start-up
        s0 = await parsed(client, ids)
        shims = [shim_pid(state, run) for run in ids]
        c0, t0, p0 = cpu_seconds(daemon), time.monotonic(), got["points"]
        h0 = sum(cpu_seconds(p) for p in shims)
        await asyncio.sleep(seconds)
        wall = time.monotonic() - t0
        pct = 100 * (cpu_seconds(daemon) - c0) / wall
        shim_pct = 100 * (sum(cpu_seconds(p) for p in shims) - h0) / wall
        rate = (got["points"] - p0) / wall
        total = (await parsed(client, ids) - s0) / wall
        consumer.cancel()
        for run in ids:
            await client.stop(run, grace=1)
        await client.close()
        stop_daemon(state)
        rows.append((n, pct, shim_pct, rate, total))
    for n, pct, shim_pct, rate, total in rows:
        print(
            f"agent following {n:2d} live runs at 100 lines/s each ({total:.0f} points/s "
            f"parsed in all), one client subscribed to one run ({rate:.0f} points/s reach "
            f"it): daemon {pct:.2f} % of one core, {pct / n:.3f} % per run; shims "
            f"{shim_pct:.2f} % in all, {shim_pct / n:.3f} % per run"
        )
    if len(rows) > 1:
        (n0, cpu0, shim0, _, _), (n1, cpu1, shim1, _, _) = rows[0], rows[-1]
        print(
            f"  growth: {(cpu1 - cpu0) / (n1 - n0):.3f} % of one core per added run for the "
            f"daemon, {(shim1 - shim0) / (n1 - n0):.3f} % for the shims (from {n0} to {n1} runs)"
        )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--live", default="1,5,20")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--only", default="runs,points,live")
    args = ap.parse_args()
    print(f"(a shared machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    root = tempfile.mkdtemp(prefix="rdt-bench-scale-", dir="/tmp")
    try:
        if "runs" in args.only:
            await many_runs(root, args.runs)
        if "points" in args.only:
            await many_points(root, args.points)
        if "live" in args.only:
            await live_runs(root, [int(n) for n in args.live.split(",")], args.seconds)
    finally:
        for name in os.listdir(root):
            stop_daemon(os.path.join(root, name))
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
