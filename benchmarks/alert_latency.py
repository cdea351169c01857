"""Alert latency with no console attached: from the job's fatal line (or its exit) to the
webhook POST arriving at a real HTTP server on 127.0.0.1. Goal: under 2 s.

The agent's daemon runs detached (the client that started it is closed before each job); the
job writes the time just before its fatal line or its exit. Reference, in the same script: a
bare loop that polls output.log at the run watcher's interval (the alert engine judges a run
right after each of its watcher's polls) and greps for the line (what a cron-style
`tail | grep | curl` would do at best), and the intervals themselves.

    python benchmarks/alert_latency.py [--trials 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rdt_tui.agent import alerting, watch
from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport
from tests.webhook import Webhook

FATAL_JOB = """
import sys, time
print("step=1 loss=0.5", flush=True)
time.sleep(0.5)
open(sys.argv[1], "w").write(repr(time.time()))
print("RuntimeError: NCCL communicator was aborted on rank 3", flush=True)
time.sleep(1.5)
"""
EXIT_JOB = """
import os, sys, time
print("step=1 loss=0.5", flush=True)
time.sleep(0.5)
open(sys.argv[1], "w").write(repr(time.time()))
os._exit(1)
"""


async def trial(state: str, hook: Webhook, work: str, body: str, kind: str) -> float:
    job = os.path.join(work, "job.py")
    with open(job, "w") as fh:
        fh.write(textwrap.dedent(body))
    stamp = os.path.join(work, "stamp")
    if os.path.exists(stamp):
        os.unlink(stamp)
    before = len(hook.requests)
    async with AgentClient(LocalTransport(state)) as c:
        run = await c.launch(
            [sys.executable, job, stamp], cwd=work, alerts={"exit": kind == "exit"}
        )
    # Detached from here on: no client is connected while the job fails.
    for _ in range(400):
        posts = [r for r in hook.requests[before:] if json.loads(r["body"])["run"] == run["id"]]
        got = [r for r in posts if json.loads(r["body"])["kind"] == kind]
        if got:
            with open(stamp) as fh:
                return float(got[0]["t"]) - float(fh.read())
        await asyncio.sleep(0.025)
    raise SystemExit(f"no {kind} POST for {run['id']}")


def raw_poll(work: str, trials: int) -> list[float]:
    """The reference: a writer thread appends the line at an arbitrary moment; a loop polls
    the file every POLL_S and greps what is new."""
    out = []
    path = os.path.join(work, "raw.log")
    for i in range(trials):
        open(path, "w").close()
        written: list[float] = []

        def write(
            # spread over one poll interval, as a job's line falls anywhere between two polls
            delay: float = 0.05 + (i + 0.5) / trials * watch.POLL_S,
            written: list[float] = written,
        ) -> None:
            time.sleep(delay)
            with open(path, "a") as fh:
                fh.write("RuntimeError: NCCL communicator was aborted\n")
            written.append(time.time())

        writer = threading.Thread(target=write)
        writer.start()
        offset = 0
        while True:
            with open(path) as fh:
                fh.seek(offset)
                text = fh.read()
            offset += len(text)
            if "NCCL" in text:
                writer.join()
                out.append(time.time() - written[0])
                break
            time.sleep(watch.POLL_S)
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    state = tempfile.mkdtemp(prefix="rdt-bench-", dir="/tmp")
    work = tempfile.mkdtemp(prefix="rdt-bench-work-", dir="/tmp")
    hook = Webhook()
    try:
        fd = os.open(os.path.join(state, "notify.json"), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"notify": {"url": hook.url, "format": "generic"}}, fh)
        n = range(args.trials)
        fatal = [await trial(state, hook, work, FATAL_JOB, "fatal_line") for _ in n]
        exits = [await trial(state, hook, work, EXIT_JOB, "exit") for _ in n]
        raw = raw_poll(work, args.trials)
        async with AgentClient(LocalTransport(state)) as c:
            await c.call("shutdown", {})
    finally:
        hook.close()
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    def row(name: str, values: list[float]) -> None:
        print(
            f"{name:48} median {statistics.median(values):.3f} s  "
            f"max {max(values):.3f} s  (n={len(values)})"
        )

    print("alert latency, no console attached (goal: under 2 s)")
    row("fatal line -> webhook POST", fatal)
    row("job exit -> webhook POST", exits)
    row(f"reference: bare {watch.POLL_S} s poll of the log, no POST", raw)
    print(
        f"poll interval: run watcher {watch.POLL_S} s; the alert engine judges a run after each "
        f"of its polls (and every run each {alerting.SWEEP_S} s)"
    )


if __name__ == "__main__":
    asyncio.run(main())
