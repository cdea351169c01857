"""Daemon descriptors and memory during the soak (tests/soak.py): a job with hundreds of metric
names, an absurd step, a NaN step, a 3 MB unterminated line, a copy-truncated log and
processes escaping the marker, followed by a console in tmux and `rdt-tui logs --follow`.

Prints the daemon's open descriptors and RSS at the start, the peak and the end, the slowest
`runs` answer, and, as the reference in the same script, the same figures of an idle daemon
(one client, no run) sampled the same way.

    python benchmarks/soak_figures.py [--seconds 120]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import stop_daemon
from tests.soak import _daemon_pid, _fds_rss, soak


def idle_reference(seconds: float) -> tuple[list[int], list[int]]:
    state = tempfile.mkdtemp(prefix="rdt-b-", dir="/tmp")
    env = dict(os.environ, RDT_TUI_STATE_DIR=state)
    try:
        subprocess.run(
            [sys.executable, "-m", "rdt_tui.cli", "runs", "localhost"],
            env=env,
            capture_output=True,
            timeout=60,
            check=True,
        )
        fds, rss = [], []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            f, r = _fds_rss(_daemon_pid(state))
            fds.append(f)
            rss.append(r)
            time.sleep(1)
        return fds, rss
    finally:
        stop_daemon(state)
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    a = ap.parse_args()
    state = tempfile.mkdtemp(prefix="rdt-b-", dir="/tmp")
    work = tempfile.mkdtemp(prefix="rdt-bw-", dir="/tmp")
    try:
        r = soak(state, work, a.seconds, names=500)
    finally:
        stop_daemon(state)
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    fds = [s.fds for s in r.samples]
    rss = [s.rss_kib // 1024 for s in r.samples]
    slowest = max(s.answer_s for s in r.samples)
    ref_fds, ref_rss = idle_reference(min(a.seconds, 20.0))
    print(f"soak of {a.seconds:.0f} s, 500 metric names, {len(r.reference)} points in output.log")
    print(f"  daemon descriptors  start {fds[0]}  peak {max(fds)}  end {fds[-1]}")
    print(f"  daemon RSS (MiB)    start {rss[0]}  peak {max(rss)}  end {rss[-1]}")
    print(f"  slowest `rdt-tui runs` answer during the soak: {slowest:.2f} s")
    print(f"  processes left after stop: {len(r.left_after_stop)} of {len(r.escaped)} escaped")
    print(
        f"reference, idle daemon: descriptors {min(ref_fds)}-{max(ref_fds)}, "
        f"RSS {min(ref_rss) // 1024}-{max(ref_rss) // 1024} MiB"
    )


if __name__ == "__main__":
    main()
