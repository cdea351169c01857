"""Preflight figures, each beside a reference measured in the same run.

1. MD5 manifest of a dataset of several files (in the page cache): our manifest with one
   worker against `md5sum` over the same files (target >= 0.9x per core), then with a worker
   per core (it uses every core).
2. Dataset statistics over a generated HDF5 dataset of ~1 GB: the statistics job, in one
   thread and in two, against reading the same datasets with h5py and doing nothing: one
   HDF5 chunk per read into a new array (the target's reference, >= 0.8x), and h5py's fastest
   read found (each whole dataset with ``read_direct`` into one reused buffer); all timed
   inside this process, alternated, median of 5, in wall and CPU seconds, with the load; the
   floor (the job's own read and one pass over every byte); peak memory (max RSS of the job)
   for a quarter of the data and for all of it.

    python benchmarks/preflight_figures.py [--gb 1.0]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rdt_tui.agent.manifest import manifest
from rdt_tui.agent.preflight_ops import CODE_ROOT, STATS_BOOT
from rdt_tui.agent.statsjob import compute
from rdt_tui.agent.statsread import blocks

PY = sys.executable


def read_only(directory: str) -> int:
    """The reference: h5py reads the same datasets, one HDF5 chunk (65,536 rows) per read into
    a new array, and nothing more."""
    import h5py
    import numpy as np

    rows = 0
    for path in sorted(glob.glob(os.path.join(directory, "*.hdf5"))):
        with h5py.File(path, "r") as f:
            for key in sorted(f["data"].keys()):
                d = f["data"][key]["obs"]["joint_states"]
                for r0 in range(0, d.shape[0], 65536):
                    x = np.asarray(d[r0 : r0 + 65536], dtype=np.float64)
                    rows += x.shape[0]
    return rows


def read_direct(directory: str, buf: Any) -> int:
    """h5py's fastest read found: each whole dataset into one reused buffer (no new pages)."""
    import h5py
    import numpy as np

    rows = 0
    for path in sorted(glob.glob(os.path.join(directory, "*.hdf5"))):
        with h5py.File(path, "r") as f:
            for key in sorted(f["data"].keys()):
                d = f["data"][key]["obs"]["joint_states"]
                if buf[0] is None or len(buf[0]) < d.shape[0]:
                    buf[0] = np.empty(d.shape)
                d.read_direct(buf[0][: d.shape[0]])
                rows += d.shape[0]
    return rows


def read_floor(directory: str) -> int:
    """The floor: the job's own read (plain chunks mapped from the page cache, no copy) and
    the one pass that brings every byte from memory (a sum); no statistics."""
    import numpy as np

    files = sorted(glob.glob(os.path.join(directory, "*.hdf5")))
    keys, counts, rows = ["data/*/obs/joint_states"], {"episodes": 0}, 0
    for _, _, x in blocks(files, keys, 0, np, counts):
        np.add.reduce(x, axis=None)
        rows += x.shape[0]
    return rows


def md5_figures(root: str, files: int, each_mb: int) -> None:
    os.makedirs(root)
    block = os.urandom(1 << 20)
    for i in range(files):
        with open(os.path.join(root, f"ep{i:03d}.hdf5"), "wb") as fh:
            for _ in range(each_mb):
                fh.write(block)
    names = sorted(os.listdir(root))
    subprocess.run(["cat", *names], cwd=root, stdout=subprocess.DEVNULL, check=True)  # warm
    t0 = time.perf_counter()
    subprocess.run(["md5sum", *names], cwd=root, stdout=subprocess.DEVNULL, check=True)
    ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    manifest(root, "*", workers=1)
    one = time.perf_counter() - t0
    cores = os.cpu_count() or 1
    t0 = time.perf_counter()
    manifest(root, "*", workers=cores)
    every = time.perf_counter() - t0
    mib = files * each_mb
    print(
        f"MD5 manifest of {files} files, {mib} MiB: md5sum {mib / ref:.0f} MiB/s; ours with 1 "
        f"worker {mib / one:.0f} MiB/s -> {ref / one:.2f}x per core (target >= 0.9x); with "
        f"{cores} workers {mib / every:.0f} MiB/s -> {ref / every:.2f}x md5sum, "
        f"{one / every:.2f}x our 1 worker"
    )


def make_hdf5(root: str, gb: float, files: int = 8) -> int:
    import h5py
    import numpy as np

    os.makedirs(root)
    rng = np.random.default_rng(0)
    rows_per_demo = 200_000
    demos = max(1, int(gb * (1 << 30) / (rows_per_demo * 7 * 8) / files))
    for i in range(files):
        with h5py.File(os.path.join(root, f"libero_{i}.hdf5"), "w") as f:
            for d in range(demos):
                x = rng.normal(0, 0.5, (rows_per_demo, 7))
                f.create_dataset(f"data/demo_{d}/obs/joint_states", data=x, chunks=(65536, 7))
    return sum(os.path.getsize(os.path.join(root, n)) for n in os.listdir(root))


def stats_figures(root: str, gb: float) -> None:
    full = os.path.join(root, "full")
    quarter = os.path.join(root, "quarter")
    size = make_hdf5(full, gb)
    make_hdf5(quarter, gb / 4)
    subprocess.run(
        ["cat", *(os.path.join(full, n) for n in os.listdir(full))],
        stdout=subprocess.DEVNULL,
        check=True,
    )  # in the page cache, like md5sum's
    keys = ["data/*/obs/joint_states"]
    req = {"directory": full, "pattern": "*.hdf5", "keys": keys}
    # Timed inside this one process, alternated, median of five: no interpreter start-up or
    # imports in any figure (all are imported before the first run).
    buf: list[Any] = [None]
    runs = {
        "read": lambda: read_only(full),
        "direct": lambda: read_direct(full, buf),
        "floor": lambda: read_floor(full),
        "one": lambda: compute(full, "*.hdf5", keys, workers=1)["rows"],
        "two": lambda: compute(full, "*.hdf5", keys, workers=2)["rows"],
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    rows = {name: run() for name, run in runs.items()}  # warm-up, and the same rows for all
    assert len(set(rows.values())) == 1, rows
    load = os.getloadavg()[0]
    for _ in range(5):
        for name, run in runs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            run()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    load = max(load, os.getloadavg()[0])
    wall = {name: statistics.median(t) for name, t in times.items()}
    cpus = {name: statistics.median(t) for name, t in cpu.items()}
    rows_n = rows["one"]
    # Peak memory, each in a fresh child so ru_maxrss is its own.
    peaks = []
    for directory in (quarter, full):
        probe = (
            "import json, resource, subprocess, sys; r = subprocess.run(sys.argv[1:], "
            "input=sys.stdin.buffer.read(), capture_output=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        req_d = dict(req, directory=directory)
        done = subprocess.run(
            [PY, "-c", probe, PY, "-c", STATS_BOOT, CODE_ROOT],
            input=json.dumps(req_d).encode(),
            capture_output=True,
            check=True,
        )
        peaks.append(int(done.stdout.strip()) / 1024)
    mb = size / (1 << 20)

    def ratios(name: str) -> str:
        return (
            f"{mb / wall[name]:.0f} MiB/s -> {wall['read'] / wall[name]:.2f}x the chunk reads "
            f"(CPU {cpus['read'] / cpus[name]:.2f}x), {wall['direct'] / wall[name]:.2f}x "
            f"read_direct (CPU {cpus['direct'] / cpus[name]:.2f}x)"
        )

    print(
        f"statistics over {mb:.0f} MiB of HDF5 ({rows_n} rows x 7 dims, both stds), in one "
        f"process, median of 5, load up to {load:.1f}: h5py reading alone, a chunk per read "
        f"{mb / wall['read']:.0f} MiB/s, whole datasets by read_direct into one buffer "
        f"{mb / wall['direct']:.0f} MiB/s (both one thread)\n"
        f"  the job in one thread: {ratios('one')} (target >= 0.8x the chunk reads)\n"
        f"  the job in two threads (the agent's default): {ratios('two')}\n"
        f"  the floor, the job's own read and one pass over every byte: "
        f"{mb / wall['floor']:.0f} MiB/s -> the job in one thread is "
        f"{wall['floor'] / wall['one']:.2f}x of it\n"
        f"  peak RSS of the job as the agent runs it {peaks[0]:.0f} MiB for a quarter of the "
        f"data, {peaks[1]:.0f} MiB for all of it"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--only", default="md5,stats")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="rdt-bench-", dir="/tmp")
    try:
        if "md5" in a.only:
            md5_figures(os.path.join(tmp, "md5"), files=8, each_mb=int(128 * a.gb))
        if "stats" in a.only:
            stats_figures(os.path.join(tmp, "stats"), a.gb)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
