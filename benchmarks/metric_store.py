"""The agent's metric store: append, replay after a restart, and since(0), for a run of 1M points.

The points come as RDT's loop makes them: every step painted twice (the stale postfix, then the
new one), so half the points replace the one before. Batches of 1,000 points, as a watcher's
poll hands them over. The reference, in the same script: the same bytes written with one
``array.tofile`` and read back with one ``frombytes`` (what no record format can beat), and the
descriptors held while 1,000 names are written (one record file, whatever the names).

    python benchmarks/metric_store.py [--points 1000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from array import array

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.core.metrics import MetricPoint


def batches(points: int) -> list[list[MetricPoint]]:
    out, batch = [], []
    for i in range(points // 2):
        step = i // 2 + 1
        stale = i % 2 == 0  # the update(1) paint, then the set_postfix paint of the same step
        value = 1.0 / (step + (0 if stale else 1))
        batch += [MetricPoint("loss", value, step), MetricPoint("lr", 0.0001, step)]
        if len(batch) >= 1000:
            out.append(batch)
            batch = []
    return out + ([batch] if batch else [])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="rdt-bench-store-", dir="/tmp")
    try:
        data = batches(args.points)
        store = MetricStore(os.path.join(work, "metrics"))
        t0 = time.perf_counter()
        for batch in data:
            store.append(batch, time.time())
        store.save_cursor({})
        t_append = time.perf_counter() - t0
        store.close()
        t0 = time.perf_counter()
        again = MetricStore(os.path.join(work, "metrics"))
        assert again.load() is not None
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        page, _ = again.since(0, args.points)
        t_since = time.perf_counter() - t0
        kept = sum(len(c["seq"]) for c in page["series"].values())
        size = os.path.getsize(os.path.join(work, "metrics", "points.bin"))

        raw = array("d", range(size // 8))
        path = os.path.join(work, "raw.f64")
        t0 = time.perf_counter()
        with open(path, "wb") as fh:
            raw.tofile(fh)
        t_raw_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        back = array("d")
        with open(path, "rb") as fh:
            back.frombytes(fh.read())
        t_raw_read = time.perf_counter() - t0

        fds = len(os.listdir("/proc/self/fd"))
        many = MetricStore(os.path.join(work, "many"))
        for step in range(3):
            many.append([MetricPoint(f"task_{i}", 0.5, step) for i in range(1000)], 0.0)
        fds_many = len(os.listdir("/proc/self/fd")) - fds
        many.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.points} points parsed, {kept} kept (one per name and step), {size >> 20} MiB")
    print(f"append: {t_append:6.2f} s   ({args.points / t_append / 1e6:.2f} M points/s)")
    print(f"replay: {t_load:6.2f} s   (a restarted daemon, instead of re-reading the log)")
    print(f"since0: {t_since:6.2f} s   (a client attaching)")
    print(f"reference, the same bytes: tofile {t_raw_write:.2f} s, frombytes {t_raw_read:.2f} s")
    print(f"descriptors held for 1,000 names: {fds_many}")


if __name__ == "__main__":
    main()
