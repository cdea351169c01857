"""The console's figures, each printed beside a reference measured in the same run.

1. Start to first paint: ``rdt-tui`` in a real terminal (tmux) until the hosts screen is on
   it, against a minimal Textual app measured the same way. Target < 1 s; torch never loaded.
2. Redraw of a 100,000-point loss series (downsample + plotext build), against plotext
   drawing the raw series. Target < 50 ms.
3. Console CPU while it shows 8 SIMULATED GPUs at 1 Hz, the chart and the log tail of a job
   writing 1000 lines/s (``rdt-tui watch`` in tmux), against ``tail -F`` of the same log in
   tmux. Target < 5 % of one core.
4. Cluster view of 32 hosts x 8 GPUs (scripted clients, one sample per host per second):
   keypress to paint p95 against the same view of 1 host; memory over the run. Target
   p95 < 100 ms, memory bounded.

    python benchmarks/console_figures.py [--seconds 30] [--only first_paint,redraw,cpu,cluster]
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
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import LOG_WRITER, cpu_seconds, shim_pid

PY = sys.executable


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def time_to_text(session: str, command: str, needle: str, env: dict[str, str]) -> float:
    """Seconds from starting ``command`` in a fresh 120x40 tmux pane until ``needle`` shows."""
    tmux("kill-session", "-t", session)
    env_args = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
    t0 = time.monotonic()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", *env_args, command],
        check=True,
    )
    while needle not in tmux("capture-pane", "-p", "-t", session):
        if time.monotonic() - t0 > 30:
            raise SystemExit(f"{command!r} never showed {needle!r}")
        time.sleep(0.005)
    took = time.monotonic() - t0
    tmux("kill-session", "-t", session)
    return took


MINIMAL_APP = (
    "from textual.app import App\nfrom textual.widgets import Static\n"
    "class A(App):\n    def compose(self):\n        yield Static('Hello minimal')\nA().run()\n"
)


def first_paint(reps: int = 5) -> None:
    tmp = tempfile.mkdtemp(prefix="rdt-bench-")
    open(os.path.join(tmp, "ssh_config"), "w").close()
    with open(os.path.join(tmp, "minimal.py"), "w") as fh:
        fh.write(MINIMAL_APP)
    env = {
        "RDT_TUI_CONFIG_DIR": os.path.join(tmp, "cfg"),
        "RDT_TUI_SSH_CONFIG": os.path.join(tmp, "ssh_config"),
        "RDT_TUI_STATE_DIR": os.path.join(tmp, "state"),
        "TERM": "xterm-256color",
    }
    ours = [
        time_to_text("bench-ours", f"cd {tmp} && exec {PY} -m rdt_tui.cli", "Hosts:", env)
        for _ in range(reps)
    ]
    ref = [
        time_to_text("bench-ref", f"exec {PY} {tmp}/minimal.py", "Hello minimal", env)
        for _ in range(reps)
    ]
    loaded = subprocess.run(
        [PY, "-c", "import sys, rdt_tui.cli, rdt_tui.tui.app; print('torch' in sys.modules)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    o, r = statistics.median(ours), statistics.median(ref)
    print(
        f"first paint: rdt-tui {o * 1000:.0f} ms (median of {reps}; target < 1000 ms), "
        f"minimal Textual app {r * 1000:.0f} ms -> ratio {o / r:.2f}x; torch imported: {loaded}"
    )
    _stop_daemon(env["RDT_TUI_STATE_DIR"])
    shutil.rmtree(tmp, ignore_errors=True)


def _stop_daemon(state: str) -> None:
    try:
        with open(os.path.join(state, "agent.pid")) as fh:
            os.kill(int(fh.read().strip()), signal.SIGTERM)
    except (OSError, ValueError):
        pass


async def redraw() -> None:
    import plotext

    from rdt_tui.protocol.messages import MetricColumn
    from rdt_tui.tui.widgets.loss_chart import LossChart

    n = 100_000
    loss: MetricColumn = {
        "seq": list(range(1, n + 1)),
        "step": list(range(n)),
        "value": [1.0 / (1 + i / 500) + (5.0 if i == 77_777 else 0.0) for i in range(n)],
        "t": [float(i) for i in range(n)],
        "source": "log",
    }
    from textual.app import App

    class Host(App[None]):
        def compose(self) -> Any:
            yield LossChart()

    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(LossChart)
        chart.add({"loss": loss})
        chart.smoothing = 0.9
        await pilot.pause()
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            chart.redraw()
            chart.render()  # plotext builds the canvas here
            times.append(time.perf_counter() - t0)
        raw, smooth = chart.drawn_points()
    ours = statistics.median(times)
    plotext.clear_figure()
    plotext.plotsize(100, 30)
    t0 = time.perf_counter()
    plotext.plot(list(range(n)), loss["value"], marker="braille")
    plotext.build()
    ref = time.perf_counter() - t0
    print(
        f"redraw of a {n}-point series (EMA on, {len(raw)}+{len(smooth)} points drawn, the "
        f"spike kept: {max(v for _, v in raw) > 5}): {ours * 1000:.1f} ms median of 20 "
        f"(target < 50 ms); plotext on the raw series {ref * 1000:.0f} ms -> "
        f"{ref / ours:.0f}x faster"
    )


def console_cpu(seconds: int) -> None:
    tmp = tempfile.mkdtemp(prefix="rdt-bench-")
    state = os.path.join(tmp, "state")
    env = dict(os.environ, RDT_TUI_STATE_DIR=state)
    run = subprocess.run(
        [
            # The daemon this starts is the one the console attaches to: with the GPUs the
            # console is to draw (a daemon with a live run is not restarted for them).
            *(PY, "-m", "rdt_tui.cli", "launch", "localhost", "--json", "--cwd", tmp),
            *("--simulate-gpus", "8"),
            *("--", PY, LOG_WRITER, str(seconds + 30)),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    import json

    run_id = json.loads(run.stdout)["id"]
    log = os.path.join(state, "runs", run_id, "output.log")
    # The checkout this script is in, whatever environment the tmux server was started with.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tenv = {"RDT_TUI_STATE_DIR": state, "TERM": "xterm-256color", "PYTHONPATH": root}
    cmd = f"exec {PY} -m rdt_tui.cli watch localhost {run_id} --simulate-gpus 8"
    time_to_text_keep("bench-console", cmd, "steps/s", tenv)
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            "bench-tail",
            "-x",
            "120",
            "-y",
            "40",
            "tail -F " + log,
        ],
        check=True,
    )
    time.sleep(5)  # past start-up and the replay of the backlog
    console = int(tmux("display", "-p", "-t", "bench-console", "#{pane_pid}").strip())
    with open(os.path.join(state, "agent.pid")) as fh:
        daemon = int(fh.read().strip())
    shim = shim_pid(state, run_id)
    groups = {  # everything the console costs: itself, its attach relay, the local agent
        "console": lambda: [console],
        "attach": lambda: [p for p in descendants(console) if p != console],
        "daemon": lambda: [daemon, shim],
        "tail -F": lambda: [int(tmux("display", "-p", "-t", "bench-tail", "#{pane_pid}"))],
    }
    windows: dict[str, list[float]] = {k: [] for k in groups}
    for _ in range(3):  # three windows, the median of each
        members = {k: f() for k, f in groups.items()}
        before = {k: sum(cpu_seconds(p) for p in ps) for k, ps in members.items()}
        t0 = time.monotonic()
        time.sleep(seconds / 3)
        wall = time.monotonic() - t0
        for k, ps in members.items():
            used = sum(cpu_seconds(p) for p in ps) - before[k]
            windows[k].append(100.0 * used / wall)
    pct = {k: statistics.median(v) for k, v in windows.items()}
    total = pct["console"] + pct["attach"] + pct["daemon"]
    screen = tmux("capture-pane", "-p", "-t", "bench-console")
    print(
        f"console CPU, median of 3 windows of {seconds / 3:.0f} s (8 SIMULATED GPUs at 1 Hz, "
        f"1000 log lines/s): the watch process {pct['console']:.1f} % of one core, its attach "
        f"relay {pct['attach']:.1f} %, the local agent (daemon and the run's shim) "
        f"{pct['daemon']:.1f} % -> "
        f"everything {total:.1f} % (target < 5 %); tail -F in tmux {pct['tail -F']:.1f} % "
        f"-> ratio {total / max(pct['tail -F'], 0.01):.1f}x; SIMULATED on screen: "
        f"{'SIMULATED' in screen}"
    )
    for s in ("bench-console", "bench-tail"):
        tmux("kill-session", "-t", s)
    subprocess.run([PY, "-m", "rdt_tui.cli", "stop", "localhost", run_id], env=env, check=False)
    _stop_daemon(state)
    shutil.rmtree(tmp, ignore_errors=True)


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from /proc/PID/task/*/children."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


def time_to_text_keep(session: str, command: str, needle: str, env: dict[str, str]) -> None:
    tmux("kill-session", "-t", session)
    env_args = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", *env_args, command],
        check=True,
    )
    t0 = time.monotonic()
    while needle not in tmux("capture-pane", "-p", "-t", session):
        if time.monotonic() - t0 > 60:
            raise SystemExit(f"{command!r} never showed {needle!r}")
        time.sleep(0.1)


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def cluster(
    hosts: int, seconds: float, presses: int = 150
) -> tuple[float, float, float, float]:
    """(p95 keypress-to-paint in s, RSS after warm-up, half-way and at the end, in MiB)."""
    from textual.widgets import DataTable

    from rdt_tui.tui.app import make_console_app
    from rdt_tui.tui.screens.cluster_screen import ClusterScreen
    from rdt_tui.tui.screens.hosts_screen import HostRow
    from tests.fakes import SAMPLE_GPUS

    class Sub:
        def __aiter__(self) -> Any:
            return self._gen()

        async def _gen(self) -> Any:
            i = 0
            while True:
                i += 1
                gpus = [
                    dict(SAMPLE_GPUS["gpus"][0], index=g, util=(i * 7 + g * 13) % 100)
                    for g in range(8)
                ]
                yield {"event": "gpu", "seq": i, "data": dict(SAMPLE_GPUS, t=i, gpus=gpus)}
                await asyncio.sleep(1.0)

    class Client:
        def __init__(self, host: str) -> None:
            self.host, self.closed, self.info = host, False, {"build": "bench"}

        async def connect(self) -> dict[str, Any]:
            return self.info

        async def subscribe(self, run: Any, since: Any = None, gpu: Any = None) -> Sub:
            return Sub()

        async def gpus(self) -> dict[str, Any]:
            return {"samples": [SAMPLE_GPUS]}

        async def runs(self) -> list[Any]:
            return []

        async def close(self) -> None:
            self.closed = True

    rows = [HostRow(f"node-{i:02d}", f"10.0.0.{i}:22", "jump") for i in range(hosts)]
    app = make_console_app(rows, Client)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        status: dict[str, str] = {}
        while set(status.values()) != {"reachable"} or len(status) < hosts:
            await asyncio.sleep(0.05)
            status = getattr(app.screen, "status", {})
        await pilot.press("c")
        while not isinstance(app.screen, ClusterScreen):
            await asyncio.sleep(0.01)
        table = app.screen.query_one(DataTable)
        while table.row_count < hosts * 8:
            await asyncio.sleep(0.05)
        await asyncio.sleep(2)
        warm = rss_mib()
        # Keypress to paint: from posting the key to the end of the compositor refresh that
        # shows the moved cursor (the screen's own paint hook, timed in-process).
        screen = app.screen
        painted: list[float] = []
        original = screen._compositor_refresh

        def timed_refresh() -> None:
            original()
            painted.append(time.perf_counter())

        screen._compositor_refresh = timed_refresh  # type: ignore[method-assign]
        lat = []
        end = time.monotonic() + seconds
        i, step = 0, 1
        mid: float | None = None
        while time.monotonic() < end or i < presses:
            i += 1
            if mid is None and time.monotonic() > end - seconds / 2:
                mid = rss_mib()
            row = table.cursor_row
            if not 0 <= row + step < table.row_count:
                step = -step  # bounce between the first and the last row
            painted.clear()
            t0 = time.perf_counter()
            app.simulate_key("down" if step > 0 else "up")
            while not (painted and table.cursor_row != row):
                await asyncio.sleep(0.001)
                if time.perf_counter() - t0 > 5:
                    raise SystemExit("a keypress never moved the cursor")
            lat.append(painted[-1] - t0)
            await asyncio.sleep(0.05)
        final = rss_mib()
    lat.sort()
    return lat[int(len(lat) * 0.95)], warm, mid or warm, final


async def cluster_figures(seconds: int) -> None:
    one = await cluster(1, seconds / 2)
    many = await cluster(32, seconds)
    print(
        f"cluster view, 32 hosts x 8 GPUs: keypress to paint p95 {many[0] * 1000:.1f} ms "
        f"(target < 100 ms), 1 host x 8 GPUs {one[0] * 1000:.1f} ms -> ratio "
        f"{many[0] / one[0]:.1f}x; RSS {many[1]:.0f} MiB after warm-up, "
        f"{many[2]:.0f} MiB half-way, {many[3]:.0f} MiB after {seconds} s of samples"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--only", default="first_paint,redraw,cpu,cluster")
    a = ap.parse_args()
    only = set(a.only.split(","))
    if "first_paint" in only:
        first_paint()
    if "redraw" in only:
        asyncio.run(redraw())
    if "cpu" in only:
        console_cpu(a.seconds)
    if "cluster" in only:
        asyncio.run(cluster_figures(a.seconds))


if __name__ == "__main__":
    main()
