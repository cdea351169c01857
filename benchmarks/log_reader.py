"""What the node's second read of output.log costs: ``read_chunk`` (a client's chunks, 256 KiB
each, as a subscription reads them) beside the watcher's ``LogFollower`` (the reference: the
read every byte gets anyway, split into lines), over the same tqdm-heavy file, in CPU seconds
of this process.

    python benchmarks/log_reader.py [--mb 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import scratch_dir
from rdt_tui.agent.follower import LogFollower, read_chunk

BAR = b"Steps:  12%|#2  | 24/200 [00:48<05:52, 2.0s/it, loss=0.0152, lr=0.0001]\r"
LINE = BAR * 3 + b"step=1 loss=0.5\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=100)
    a = ap.parse_args()
    path = os.path.join(scratch_dir(), "log_reader.log")
    with open(path, "wb") as fh:
        fh.write(LINE * (a.mb * (1 << 20) // len(LINE)))
    size = os.path.getsize(path)
    try:
        read_chunk(path, 0, 1 << 20, False)  # the page cache warm for both
        t0, offset, chunks = time.process_time(), 0, 0
        while offset < size:
            _, _, offset = read_chunk(path, offset, 256 * 1024, False)
            chunks += 1
        t_chunks = time.process_time() - t0
        follower, lines = LogFollower(path), 0
        t0 = time.process_time()
        while True:
            got, more = follower.read()
            lines += len(got)
            if not more:
                break
        t_follow = time.process_time() - t0
    finally:
        os.unlink(path)
    mib = size / (1 << 20)
    print(f"{mib:.0f} MiB, CPU seconds of this process")
    print(f"  read_chunk, {chunks} chunks of 256 KiB: {t_chunks:.3f} s")
    print(f"  LogFollower, {lines} lines (reference): {t_follow:.3f} s")
    print(f"  second read / first: {t_chunks / t_follow:.0%}")


if __name__ == "__main__":
    main()
