"""The watcher's checkpoint look (every 5 s per live run) in a big run directory.

A run's directory of 5,000 other files (rendered frames, say) and 20 checkpoint directories:
``agent/ckptscan.scan`` with the default patterns, CPU milliseconds per look (median of 15).
The reference, in the same script: ``find DIR -maxdepth 1`` with the same six ``-name``
patterns, the machine's own tool listing and matching the same names (a new process each
time, its start included: the figure to read is the ratio's order, not its digits).

    python benchmarks/ckpt_scan.py [--files 5000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import timed_cpu
from rdt_tui.agent import ckptscan
from rdt_tui.core.checkpoints import DEFAULT_GLOBS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=5000)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="rdt-bench-ckpt-")
    try:
        for i in range(args.files):
            open(os.path.join(root, f"frame_{i:05d}.png"), "w").close()
        for i in range(20):
            os.makedirs(os.path.join(root, f"checkpoint-{i * 1000}"))
        looks = []
        for _ in range(15):
            t0 = time.process_time()
            found = ckptscan.scan(root)
            looks.append(time.process_time() - t0)
        names: list[str] = []
        for pattern in DEFAULT_GLOBS:
            names += ["-name", pattern] if not names else ["-o", "-name", pattern]
        find = ["find", root, "-mindepth", "1", "-maxdepth", "1", "(", *names, ")"]
        ref = statistics.median(timed_cpu(find)[1] for _ in range(15))
        ours = statistics.median(looks)
        print(
            f"checkpoint look in a directory of {args.files + 20} entries ({len(found)} "
            f"checkpoints): ours {ours * 1000:.2f} ms CPU (median of 15); find with the same "
            f"six patterns {ref * 1000:.2f} ms CPU (a new process each time) -> ratio "
            f"{ours / max(ref, 1e-6):.2f}x"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
