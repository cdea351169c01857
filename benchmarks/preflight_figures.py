"""Preflight figures, each beside a reference measured in the same run.

1. MD5 manifest of a dataset of several files (in the page cache): our manifest with one
   worker against `md5sum` over the same files (target >= 0.9x per core), then with a worker
   per core (it uses every core).
2. Dataset statistics over a generated HDF5 dataset of ~1 GB: the statistics job against
   reading the same datasets with h5py in the same chunks and doing nothing (target >= 0.8x);
   peak memory (max RSS of the job) for a quarter of the data and for all of it.

    python benchmarks/preflight_figures.py [--gb 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rdt_tui.agent.manifest import manifest
from rdt_tui.agent.preflight_ops import CODE_ROOT, STATS_BOOT

PY = sys.executable
READ_ONLY = r"""
import glob, json, os, sys, h5py, numpy as np
req = json.load(sys.stdin)
rows = 0
for path in sorted(glob.glob(os.path.join(req["directory"], "*.hdf5"))):
    with h5py.File(path, "r") as f:
        for key in sorted(f["data"].keys()):
            d = f["data"][key]["obs"]["joint_states"]
            for r0 in range(0, d.shape[0], 65536):
                x = np.asarray(d[r0:r0 + 65536], dtype=np.float64)
                rows += x.shape[0]
print(json.dumps({"rows": rows}))
"""


def timed(cmd: list[str], stdin: bytes = b"") -> tuple[float, bytes, float]:
    """(seconds, stdout, max RSS of the child in MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    out = subprocess.run(cmd, input=stdin, capture_output=True, check=True).stdout
    took = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return took, out, max(rss, before) / 1024


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
    req = {"directory": full, "pattern": "*.hdf5", "keys": ["data/*/obs/joint_states"]}
    refs, ourss = [], []
    for _ in range(2):  # alternated, best of two each: the page cache treats both alike
        ref, out, _ = timed([PY, "-c", READ_ONLY], json.dumps(req).encode())
        ours, out2, _ = timed([PY, "-c", STATS_BOOT, CODE_ROOT], json.dumps(req).encode())
        refs.append(ref)
        ourss.append(ours)
    ref, ours = min(refs), min(ourss)
    rows = json.loads(out2)["rows"]
    assert rows == json.loads(out)["rows"]
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
    print(
        f"statistics over {mb:.0f} MiB of HDF5 ({rows} rows x 7 dims, both stds): "
        f"{mb / ours:.0f} MiB/s vs h5py reading alone {mb / ref:.0f} MiB/s -> {ref / ours:.2f}x "
        f"(target >= 0.8x); peak RSS {peaks[0]:.0f} MiB for a quarter of the data, "
        f"{peaks[1]:.0f} MiB for all of it"
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
