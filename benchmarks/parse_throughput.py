"""Metric parsing of a 1 GB training log: our throughput as a ratio to `grep -c loss`.

Our side: read 4 MB chunks, cut lines (\\n and \\r), parse every line into metric points (the
bars of a chunk through core/barscan.py); then the same again as the agent's watcher does: the
reads kept as bytes (LogText), bars and the points between them kept as columns (BarRun) end
to end into the store's append, records written to disk. CPU seconds are printed beside wall
time (the reference's two processes summed), steadier on a shared machine. The fair reference
is `tr '\\r' '\\n' | grep -c loss`, which also sees every repaint as a line; target: >= 0.25 of
it. It also prints a floor: one findall of every bar's numbers and their conversion by C loops,
nothing else (no other line, no rule, no store): about the least any stdlib parse of this log
must do. ``--reference`` also times the line-by-line parser (what the fast path replaced).

    python benchmarks/parse_throughput.py [--size-mb 1024] [--reference]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import (
    FLOOR_BAR,
    floor_cpu,
    scratch_dir,
    timed,
    timed_cpu,
    write_training_log,
)
from rdt_tui.agent.follower import MAX_LINE
from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.core.alerts import ALERT_WORDS
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser


def parse_file(path: str, fast: bool = True) -> tuple[int, float]:
    t0 = time.perf_counter()
    splitter, parser, points = LineSplitter(), MetricParser(fast=fast), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(4 << 20):
            points += len(parser.parse_lines(splitter.feed(chunk)))
    points += len(parser.parse_lines(splitter.flush()))
    return points, time.perf_counter() - t0


def parse_and_store(path: str) -> tuple[int, float, float]:
    """What the agent's watcher does with a log: read, keep its complete lines as bytes
    (``LogText``), parse (bars found in the bytes, kept as columns), append to the run's
    metric store (records written to disk) and look for fatal lines."""
    with tempfile.TemporaryDirectory(prefix="rdt-bench-parse-") as work:
        t0, c0 = time.perf_counter(), time.process_time()
        splitter, parser = LineSplitter(0, MAX_LINE), MetricParser()
        store = MetricStore(os.path.join(work, "metrics"))
        with open(path, "rb") as fh:
            while chunk := fh.read(4 << 20):
                text = splitter.feed_text(chunk)
                store.append(parser.parse_points(text), time.time())
                text.first_with(ALERT_WORDS)  # the watcher's look for fatal lines
        store.append(parser.parse_points(splitter.flush()), time.time())
        store.save_cursor({})
        store.close()
        return store.last_seq, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument(
        "--reference",
        action="store_true",
        help="also time the line-by-line parser (fast=False, the fast path's reference)",
    )
    args = ap.parse_args()
    path = os.path.join(scratch_dir(), f"train-{args.size_mb}mb.log")
    if not os.path.exists(path) or os.path.getsize(path) < args.size_mb << 20:
        write_training_log(path, args.size_mb << 20)
    size = os.path.getsize(path)
    timed(["cat", path])  # warm the page cache for both contestants
    grep_s = min(timed(["grep", "-c", "loss", path]) for _ in range(3))
    # grep counts \n-lines and stops at the first "loss" in each; most tqdm updates share one
    # \n-line, so it skips them. The same work per update as ours: cut on \r first.
    # The path is an argument of the shell, never spliced into its text.
    tr_grep = ["sh", "-c", "tr '\\r' '\\n' < \"$1\" | grep -c loss", "sh", path]
    tr_grep_s, tr_grep_cpu = min(timed_cpu(tr_grep) for _ in range(3))
    points, ours_s = parse_file(path)
    mb = size / (1 << 20)
    print(f"log: {mb:.0f} MiB, {points} metric points")
    print(f"grep -c loss : {grep_s:7.2f} s  ({mb / grep_s:8.1f} MiB/s)")
    print(f"rdt-tui parse: {ours_s:7.2f} s  ({mb / ours_s:8.1f} MiB/s)")
    print(f"tr '\\r' '\\n' | grep -c loss: {tr_grep_s:7.2f} s  ({mb / tr_grep_s:8.1f} MiB/s)")
    print(f"ratio (ours/grep throughput): {grep_s / ours_s:.4f}  (target >= 0.5)")
    print(f"ratio (ours/tr+grep throughput): {tr_grep_s / ours_s:.3f}  (target >= 0.25)")
    seqs, stored_s, stored_cpu = parse_and_store(path)
    assert seqs == points, (seqs, points)
    print(
        f"parse + store (the watcher's work, records on disk): {stored_s:7.2f} s  "
        f"({mb / stored_s:8.1f} MiB/s) -> ratio to tr+grep {tr_grep_s / stored_s:.3f}"
    )
    print(
        f"CPU seconds: parse + store {stored_cpu:.2f}, tr+grep {tr_grep_cpu:.2f} (both "
        f"processes) -> ratio {tr_grep_cpu / stored_cpu:.3f}; one process of ours, two of theirs"
    )
    low_s, bars, _ = floor_cpu(path, FLOOR_BAR)
    print(
        f"floor (one findall of every bar's step, loss and lr, numbers by C loops; nothing "
        f"else): {low_s:.2f} CPU s for {bars} bars -> ratio to tr+grep CPU "
        f"{tr_grep_cpu / low_s:.3f}; ours is {stored_cpu / low_s:.1f}x the floor"
    )
    if args.reference:
        ref_points, ref_s = parse_file(path, fast=False)
        assert ref_points == points, (ref_points, points)
        print(f"line by line : {ref_s:7.2f} s  ({mb / ref_s:8.1f} MiB/s), the same points")
        print(f"ratio (line by line/tr+grep throughput): {tr_grep_s / ref_s:.3f}")


if __name__ == "__main__":
    main()
