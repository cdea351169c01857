"""The log view on a 1 GiB log, each figure beside a reference measured in the same run.

1. Search: the ``log_search`` op through a real client and agent for a line near the end
   (the whole GiB scanned on the node, one line shipped), against ``grep -m1 -F`` of the same
   text on the same file; the same case-insensitive against ``grep -m1 -F -i``.
2. In the console (Textual's headless Pilot, the real agent): ``/`` + pattern + Enter until
   the match is on screen, for a match near the start and one a GiB further (``n``).
3. Jump to the start (Home) of the 1 GiB log in the console until its first line is drawn.
   Target: under 1 s.

The log (tests/biglog.py) is written once under /tmp and kept; it is in the page cache after
the first read, as a log being written is. Run:

    python benchmarks/log_search.py [--repeat 3]
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
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import timed
from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport
from rdt_tui.tui.app import make_app
from rdt_tui.tui.widgets.log_view import LogView
from tests.biglog import NEEDLE, big_log, run_with_log

FAR = f"{NEEDLE} near the end"


async def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> float:
    t0 = time.perf_counter()
    while not predicate():
        if time.perf_counter() - t0 > timeout:
            raise SystemExit("timed out")
        await asyncio.sleep(0.005)
    return time.perf_counter() - t0


def median(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:7.0f} ms"


async def console_pass(open_run: Any, size: int, needles: list[int]) -> list[float]:
    """Home, `/` to a match 4 KiB in, `n` to one a GiB further: seconds until each is drawn."""
    app = make_app(open_run)
    times = []
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: bool(app.screen.query(LogView)))
        view = app.screen.query_one(LogView)
        await wait_for(lambda: view.end == size)
        await pilot.pause()
        s = time.perf_counter()
        await pilot.press("home")
        await wait_for(lambda: view.start == 0 and view.top_line() == 0)
        await pilot.pause()  # drawn
        times.append(time.perf_counter() - s)
        await pilot.press("slash", *NEEDLE)
        s = time.perf_counter()
        await pilot.press("enter")
        await wait_for(lambda: view.current == needles[0])
        await pilot.pause()
        times.append(time.perf_counter() - s)
        await pilot.press("n")
        await wait_for(lambda: view.current == needles[1])
        s = time.perf_counter()
        await pilot.press("n")
        await wait_for(lambda: view.current == needles[2])
        await pilot.pause()
        times.append(time.perf_counter() - s)
        await pilot.press("q")
    return times


async def main(repeat: int) -> None:
    t0 = time.perf_counter()
    log = big_log()
    print(
        f"log: {log.size / 2**30:.2f} GiB at {log.path} (ready in {time.perf_counter() - t0:.1f} s)"
    )
    state = tempfile.mkdtemp(prefix="rdt-bench-", dir="/tmp")
    client = AgentClient(LocalTransport(state), reconnect=True)
    try:
        await client.connect()
        run = await run_with_log(client, state, log.path)
        timed(["cat", log.path])  # into the page cache, as a live log is

        print("\n1. search a GiB for a line near its end: agent op vs grep -m1 (same file)")
        for label, pattern, grep_flags in (
            ("exact case ", FAR, ["-F"]),
            ("ignore case", FAR.lower(), ["-F", "-i"]),
        ):
            op, grep = [], []
            for _ in range(repeat):
                s = time.perf_counter()
                got = await client.log_search(run, pattern, 0)
                op.append(time.perf_counter() - s)
                assert got["matches"] and got["matches"][0]["offset"] == log.needles[2], got
                grep.append(timed(["grep", "-m1", *grep_flags, pattern, log.path]))
            print(f"   {label}: log_search {median(op)}   grep -m1 {median(grep)}")

        print("\n2./3. in the console (Pilot, 120x40, the real agent)")
        await client.close()

        async def open_run() -> tuple[AgentClient, str]:
            c = AgentClient(LocalTransport(state), reconnect=True)
            await c.connect()
            return c, run

        home: list[float] = []
        first: list[float] = []
        far: list[float] = []
        for _ in range(repeat):
            times = await console_pass(open_run, log.size, log.needles)
            for into, t in zip((home, first, far), times, strict=True):
                into.append(t)
        print(f"   Home (start of the GiB) drawn:        {median(home)}   target < 1000 ms")
        print(f"   / first match (4 KiB in) on screen:   {median(first)}")
        print(f"   n to a match 1 GiB further on screen: {median(far)}")
    finally:
        try:
            async with AgentClient(LocalTransport(state)) as c:
                await c.call("shutdown")
        except Exception:
            pass
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args: Any = parser.parse_args()
    asyncio.run(main(args.repeat))
