"""Each project format's parse, line by line (``MetricParser(fast=False)``, the reference) and
through the fast path (core/fastscan.py), in CPU seconds of this process so that other work on
the machine weighs less, with `tr '\\r' '\\n' < LOG | grep -c KEY` over the same file as the
machine's own reference (wall time: two processes).

    python benchmarks/format_fastpath.py [--mb 64]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import scratch_dir, timed
from benchmarks.format_throughput import FORMATS, write
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser

# The file and the key are arguments of the shell, never spliced into its text.
TR_GREP = "tr '\\r' '\\n' < \"$1\" | grep -c -- \"$2\""


def parse_cpu(path: str, fmt: str, fast: bool) -> tuple[int, float]:
    t0 = time.process_time()
    splitter, parser, points = LineSplitter(), MetricParser(fmt, fast=fast), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(4 << 20):
            points += len(parser.parse_lines(splitter.feed(chunk)))
    points += len(parser.parse_lines(splitter.flush()))
    return points, time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=64)
    size = ap.parse_args().mb << 20
    for fmt, (make, key) in FORMATS.items():
        path = os.path.join(scratch_dir(), f"fastpath-{fmt}.log")
        write(path, make, size)
        mb = os.path.getsize(path) / (1 << 20)
        timed(["cat", path])  # the page cache, warm for both
        tr_s = min(timed(["sh", "-c", TR_GREP, "sh", path, key]) for _ in range(3))
        ref_points, ref_s = parse_cpu(path, fmt, fast=False)
        points, fast_s = parse_cpu(path, fmt, fast=True)
        assert points == ref_points, (fmt, points, ref_points)
        print(
            f"{fmt:15} {mb:4.0f} MiB: line by line {mb / ref_s:6.1f} MiB/s, "
            f"fast {mb / fast_s:6.1f} MiB/s (x{ref_s / fast_s:.2f}, {points} points); "
            f"tr | grep -c {mb / tr_s:6.0f} MiB/s -> fast/tr+grep {tr_s / fast_s:.3f}"
        )
        os.unlink(path)


if __name__ == "__main__":
    main()
