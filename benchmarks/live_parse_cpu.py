"""The agent's work per poll of a live run, in CPU milliseconds per 1,000 log lines.

The run is the agent CPU benchmark's (``tests/jobs/log_writer.py``, 1,000 lines/s): per burst of
50 lines, every 10th a JSON line ``{"val_loss": ..., "global_step": N}``, every 3rd a pure
``step=N loss=... grad_norm=...`` line, the rest tqdm bars ended by ``\\r``. The watcher polls
once a second, so each poll reads one second of it: here ``--seconds`` such chunks, each as the
watcher handles it (``agent/watch.py``): ``LineSplitter.feed_text`` (the read's bytes, kept
undecoded), ``MetricParser.parse_points``, ``MetricStore.append``, the alert words searched.

The reference, in the same script and interleaved with ours (A, B, A, B...) so that a machine
that others share drifts under both alike: the line-by-line parser ``MetricParser(fast=False)``
(what every fast path is tested against) on ``LineSplitter.feed``'s lines, the same store
appending its point list, the alert words searched in the joined lines. Both stores must end
the same (names, seqs, steps, values): the script says so, and stops if not.

    python benchmarks/live_parse_cpu.py [--seconds 120] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rdt_tui.agent.follower import MAX_LINE
from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.core.alerts import ALERT_WORDS, fatal_word
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser
from tests.jobs.log_writer import burst

LINES = 1000  # a second of the run


def one_second(step: int) -> tuple[bytes, int]:
    """A second of ``tests/jobs/log_writer.py``'s output (its 20 bursts of 50 lines)."""
    text = "".join(burst(step + 50 * b) for b in range(LINES // 50))
    return text.encode(), step + LINES


def ours(chunks: list[bytes], work: str) -> tuple[float, float, MetricStore]:
    """(parse, store) CPU seconds over ``chunks`` as the watcher handles them."""
    splitter, parser = LineSplitter(0, MAX_LINE), MetricParser()
    store = MetricStore(os.path.join(work, "ours"))
    parse_s = store_s = 0.0
    for chunk in chunks:
        t0 = time.process_time()
        text = splitter.feed_text(chunk)
        points = parser.parse_points(text)
        text.first_with(ALERT_WORDS)
        t1 = time.process_time()
        store.append(points, 1.0)
        store_s += time.process_time() - t1
        parse_s += t1 - t0
    return parse_s, store_s, store


def reference(chunks: list[bytes], work: str) -> tuple[float, float, MetricStore]:
    """The same, line by line: the parser every fast path is held to."""
    splitter, parser = LineSplitter(0, MAX_LINE), MetricParser(fast=False)
    store = MetricStore(os.path.join(work, "reference"))
    parse_s = store_s = 0.0
    for chunk in chunks:
        t0 = time.process_time()
        lines = splitter.feed(chunk)
        points = parser.parse_lines(lines)
        fatal_word("\n".join(lines))
        t1 = time.process_time()
        store.append(points, 1.0)
        store_s += time.process_time() - t1
        parse_s += t1 - t0
    return parse_s, store_s, store


def store_state(store: MetricStore) -> str:
    page, last = store.since(0, 10**9)
    return json.dumps([last, page["series"], store.names])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=120, help="seconds of the run (chunks)")
    ap.add_argument("--repeats", type=int, default=5, help="runs of each, interleaved")
    args = ap.parse_args()
    chunks, step = [], 0
    for _ in range(args.seconds):
        chunk, step = one_second(step)
        chunks.append(chunk)
    per_k = 1000.0 / (args.seconds * LINES / 1000)  # seconds over all -> ms per 1,000 lines
    figures: dict[str, list[tuple[float, float]]] = {"ours": [], "reference": []}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="rdt-bench-live-") as work:
            a = ours(chunks, work)
            b = reference(chunks, work)
            if store_state(a[2]) != store_state(b[2]):
                sys.exit("live_parse_cpu: the stores differ: the fast path is wrong")
            points = a[2].last_seq
            a[2].close()
            b[2].close()
        figures["ours"].append((a[0] * per_k, a[1] * per_k))
        figures["reference"].append((b[0] * per_k, b[1] * per_k))
    print(
        f"live parse: {args.seconds} s of the agent CPU benchmark's run ({LINES} lines/s: "
        f"600 bars, 300 key=value, 100 JSON), {points} points a pass, same store both ways"
    )
    medians = {}
    for name, runs in figures.items():
        totals = [p + s for p, s in runs]
        medians[name] = statistics.median(totals)
        parse = statistics.median(p for p, _ in runs)
        store = statistics.median(s for _, s in runs)
        print(
            f"  {name:9s}  {medians[name]:6.2f} ms CPU per 1,000 lines (median of {len(runs)}: "
            f"{' '.join(f'{t:.2f}' for t in totals)}); parse {parse:.2f} + store {store:.2f}"
        )
    print(
        f"  ours / reference: {medians['ours'] / medians['reference']:.2f} "
        f"(at 1,000 lines/s: {medians['ours'] / 10:.2f} % of one core for ours)"
    )


if __name__ == "__main__":
    main()
