"""Parsing throughput of each project format on a generated log (200 MB by default), with
`grep -c KEY` over the same file in the same script as the reference, and
`tr '\\r' '\\n' < LOG | grep -c KEY` (every tqdm repaint a line, as our parser sees them);
then the agent's whole work per format, parse and store (bars appended as columns); and the
floor of any standard-library parse of that log: one findall of each line's numbers (its
layout known in advance) and their conversion by C loops, nothing else, in CPU seconds beside
tr | grep's CPU seconds (both of its processes).

    python benchmarks/format_throughput.py [--mb 200]

The logs are shaped like the real ones (shared/reference/training-projects.md): RDT's tqdm bar
on \\r with logging chatter and sample dicts; Diffusion Policy's logs.json.txt; GestureLSM's
RVQ-VAE run.log and generative loguru lines; LIBERO's epoch lines.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import FLOOR_BAR, floor_cpu, scratch_dir, timed, timed_cpu
from rdt_tui.agent.follower import CHUNK, MAX_LINE
from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser


def rdt(i: int) -> str:
    line = (
        f"Steps:  {i % 100:2d}%|#####     | {i}/200000 [01:23<4:56:12, 1.31it/s, "
        f"loss={1.0 / (i + 1):.4g}, lr=0.0001]\r"
    )
    if i % 50 == 0:
        line += (
            "\n12/12/2024 07:07:23 - INFO - __main__ - {'agilex_sample_mse': 0.0123, "
            "'overall_avg_sample_mse': 0.0123}\n"
        )
    return line


def dp(i: int) -> str:
    extra = ', "val_loss": 0.02, "train_action_mse_error": 0.01' if i % 311 == 0 else ""
    return (
        f'{{"train_loss": {1.0 / (i + 1):.6g}, "global_step": {i}, "epoch": {i // 311}, '
        f'"lr": 0.0001{extra}}}\n'
    )


def rvq(i: int) -> str:
    return (
        f"2024-09-09 12:00:00,000 INFO Train. Iter {i} : \t Commit. 0.10000 \t PPL. 600.50 \t "
        f"Recons.  {1.0 / (i + 1):.5f}\n"
    )


def gen(i: int) -> str:
    line = (
        f" 09-09 12:00:00 | [{i // 311:03d}][{i % 311:03d}/311]  predict_x0_loss: "
        f"{1.0 / (i + 1):.3f} lr: 0.000\n"
    )
    if i % 311 == 0:
        line += " 09-09 12:01:00 | Validation Results >>>> fgd: 0.410 bc: 0.738 l1div: 12.575\n"
    return line


def libero(i: int) -> str:
    return f"[info] Epoch: {i:3d} | train loss: {1.0 / (i + 1):5.2f} | time: 0.90\n"


FORMATS = {
    "rdt": (rdt, "loss"),
    "dp": (dp, "train_loss"),
    "gesturelsm-rvq": (rvq, "Recons"),
    "gesturelsm": (gen, "predict_x0_loss"),
    "libero": (libero, "train loss"),
}


# Each format's main line, its numbers captured: the least regex work that finds them all.
FLOORS = {
    "rdt": FLOOR_BAR,
    "dp": re.compile(
        rb'"train_loss": ([^,]*), "global_step": (\d+), "epoch": (\d+), "lr": ([^,}]*)'
    ),
    "gesturelsm-rvq": re.compile(
        rb"Iter (\d+) : \t Commit\. ([0-9.]+) \t PPL\. ([0-9.]+) \t Recons\.  ([0-9.]+)"
    ),
    "gesturelsm": re.compile(rb"\[(\d+)\]\[(\d+)/311\]  predict_x0_loss: ([0-9.]+) lr: ([0-9.]+)"),
    "libero": re.compile(rb"Epoch: +(\d+) \| train loss: +([0-9.]+) \| time: ([0-9.]+)"),
}


# The file and the key are arguments of the shell, never spliced into its text.
TR_GREP = "tr '\\r' '\\n' < \"$1\" | grep -c -- \"$2\""


def write(path: str, make: object, size: int) -> None:
    block = "".join(make(i) for i in range(1, 20001)).encode()  # type: ignore[operator]
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            fh.write(block)
            written += len(block)


def parse(path: str, fmt: str) -> tuple[int, float]:
    splitter, parser = LineSplitter(), MetricParser(fmt)
    count = 0
    t0 = time.perf_counter()
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            count += len(parser.parse_lines(splitter.feed(chunk)))
    count += len(parser.parse_lines(splitter.flush()))
    return count, time.perf_counter() - t0


def parse_and_store(path: str, fmt: str) -> float:
    """The agent's watcher's work: parse (bars as columns) and append to a metric store."""
    with tempfile.TemporaryDirectory(prefix="rdt-bench-fmt-") as work:
        splitter, parser = LineSplitter(0, MAX_LINE), MetricParser(fmt)
        store = MetricStore(os.path.join(work, "metrics"))
        t0 = time.perf_counter()
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):  # as the watcher reads: bytes kept (LogText)
                store.append(parser.parse_points(splitter.feed_text(chunk)), 0.0)
        store.append(parser.parse_points(splitter.flush()), 0.0)
        store.save_cursor({})
        store.close()
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    a = ap.parse_args()
    size = a.mb << 20
    for fmt, (make, key) in FORMATS.items():
        path = os.path.join(scratch_dir(), f"format-{fmt}.log")
        write(path, make, size)
        mb = os.path.getsize(path) / (1 << 20)
        grep_s = min(timed(["grep", "-c", key, path]) for _ in range(3))
        tr_s = min(timed(["sh", "-c", TR_GREP, "sh", path, key]) for _ in range(3))
        tr_cpu = min(timed_cpu(["sh", "-c", TR_GREP, "sh", path, key])[1] for _ in range(3))
        points, ours_s = parse(path, fmt)
        stored_s = parse_and_store(path, fmt)
        low_cpu, _, numbers = floor_cpu(path, FLOORS[fmt])
        print(
            f"{fmt:15} {mb:5.0f} MiB: ours {mb / ours_s:6.1f} MiB/s ({points} points), "
            f"grep -c {key!r} {mb / grep_s:7.0f} MiB/s -> ratio {grep_s / ours_s:.3f}; "
            f"tr | grep -c {mb / tr_s:7.0f} MiB/s -> ratio {tr_s / ours_s:.3f}; "
            f"parse + store {mb / stored_s:6.1f} MiB/s -> ratio to tr | grep {tr_s / stored_s:.3f}"
        )
        print(
            f"{'':15} floor (one findall of its lines' {numbers} numbers, made floats by map; "
            f"nothing else): {low_cpu:.2f} CPU s, tr | grep {tr_cpu:.2f} CPU s -> the floor's "
            f"ratio {tr_cpu / low_cpu:.3f}: no standard-library parse on one core does better"
        )
        os.unlink(path)


if __name__ == "__main__":
    main()
