"""`rdt-tui stats` runs the project's own statistics script (preflight.stats_command) inside
our checks, through the real CLI and a real local agent: a dry run shows the change and
writes nothing, a write keeps a backup, a script whose statistics fail their checks (NaN, a
zero std where values vary) or that crashes is refused and the file stays byte for byte. The
built-in computation reproduces the script's per-dimension gripper scaling (stats_scale).
A NaN in the dataset is a clear failure naming key and dimension, never a hang."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

from rdt_tui.agent.statsjob import StatsError, compute
from rdt_tui.config.profiles import ProfileError, load_profile

np = pytest.importorskip("numpy")
h5py = pytest.importorskip("h5py")

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRIPPERS = {6: 4.7908, 13: 4.7888}  # RDT's agilex parse_hdf5_file_state_only
SLOTS = [50, 51, 52, 53, 54, 55, 60, 0, 1, 2, 3, 4, 5, 10]  # its 14 -> 128 placement

# A project's own statistics script, shaped like RDT's data/compute_dataset_stat_hdf5.py:
# its own parsing (grippers divided), its own placement, merged into --save_path.
PROJECT_SCRIPT = textwrap.dedent("""
    import argparse, glob, json, os, sys
    import h5py, numpy as np
    p = argparse.ArgumentParser()
    p.add_argument("--save_path", required=True)
    p.add_argument("--mode", default="ok")
    a = p.parse_args()
    if a.mode == "crash":
        sys.exit("HDF5VLADataset: no episode in data/ (KeyError 'qpos')")
    if a.mode == "hang":  # a worker of its own, then no end
        import subprocess, time
        worker = subprocess.Popen(["sleep", "600"])
        with open("pids", "w") as fh:
            fh.write(f"{os.getpid()} {worker.pid}")
        time.sleep(600)
    rows = []
    for f in sorted(glob.glob("data/*.hdf5")):
        with h5py.File(f, "r") as h:
            rows.append(h["observations/qpos"][:] / np.array(SCALE))
    x = np.concatenate(rows)
    eps = 1e-8
    z = np.where(np.abs(x) > eps, x, 0.0)
    n, nz = x.shape[0], np.maximum((np.abs(x) > eps).sum(0), 1)
    stats = {
        "state_mean": x.sum(0) / n,
        "state_std": np.sqrt(np.maximum((z**2).sum(0) / nz - (z.sum(0) / n) ** 2 * (n / nz), 0)),
        "state_min": x.min(0),
        "state_max": x.max(0),
    }
    if a.mode == "nan":
        stats["state_std"][3] = float("nan")
    if a.mode == "flat":
        stats["state_std"][:] = 0.0
    entry = {"dataset_name": "agilex"}
    for k, v in stats.items():
        full = np.zeros(128)
        full[SLOTS] = v
        entry[k] = full.tolist()
    try:
        with open(a.save_path) as fh:
            results = json.load(fh)
    except FileNotFoundError:
        results = {}
    results["agilex"] = entry
    with open(a.save_path, "w") as fh:
        json.dump(results, fh, indent=4)
    print("All datasets have been processed.")
""").replace("SCALE", repr([GRIPPERS.get(i, 1.0) for i in range(14)]))
PROJECT_SCRIPT = PROJECT_SCRIPT.replace("SLOTS", repr(SLOTS))


def cli(state_dir: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RDT_TUI_STATE_DIR=state_dir, PYTHONPATH=REPO)
    return subprocess.run(
        [PY, "-m", "rdt_tui.cli", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def make_project(root: str) -> Any:
    """Three agilex-like episodes (14 dims, grippers in 0..4.79), the script, the stats file
    with another, hand-formatted entry. Returns the rows."""
    rng = np.random.default_rng(3)
    os.makedirs(os.path.join(root, "data"))
    os.makedirs(os.path.join(root, "configs"))
    arrays = []
    for i in range(3):
        x = rng.normal(0.1, 0.5, (60 + 11 * i, 14))
        x[:, 6] = rng.uniform(0, 4.79, len(x))
        x[:, 13] = rng.uniform(0, 4.78, len(x))
        arrays.append(x)
        with h5py.File(os.path.join(root, "data", f"ep{i}.hdf5"), "w") as f:
            f["observations/qpos"] = x
    with open(os.path.join(root, "compute_stats.py"), "w") as fh:
        fh.write(PROJECT_SCRIPT)
    bridge = {"dataset_name": "bridge", **{k: [0.5] * 128 for k in ("state_mean", "state_max")}}
    bridge.update(state_std=[0.2] * 128, state_min=[0.0] * 128)
    with open(os.path.join(root, "configs", "dataset_stat.json"), "w") as fh:
        fh.write('{"bridge":   ' + json.dumps(bridge) + "}  \n")  # as a person left it
    return np.concatenate(arrays)


def write_profile(root: str, mode: str = "ok", **preflight: str) -> str:
    path = os.path.join(root, f"p-{mode}.toml")
    extra = "".join(f"{k} = {v}\n" for k, v in preflight.items())
    with open(path, "w") as fh:
        fh.write(
            f'command = ["true"]\ncwd = "{root}"\n[preflight]\npython = "{PY}"\n'
            'stats_file = "configs/dataset_stat.json"\ndataset_name = "agilex"\n' + extra
        )
        if mode != "builtin":  # the built-in computation: no script
            fh.write(
                f'stats_command = ["{{python}}", "compute_stats.py", "--save_path", "{{output}}", '
                f'"--mode", "{mode}"]\n'
            )
    return path


def read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def reference(x: Any) -> dict[str, Any]:
    """The script's numbers, written out with numpy: grippers divided, then RDT's std."""
    x = x / np.array([GRIPPERS.get(i, 1.0) for i in range(14)])
    z = np.where(np.abs(x) > 1e-8, x, 0.0)
    n, nz = x.shape[0], np.maximum((np.abs(x) > 1e-8).sum(0), 1)
    std = np.sqrt(np.maximum((z**2).sum(0) / nz - (z.sum(0) / n) ** 2 * (n / nz), 0))
    return {"mean": x.mean(0), "std": std, "min": x.min(0), "max": x.max(0)}


def test_the_projects_script_is_run_checked_backed_up_and_written(
    state_dir: str, workdir: str
) -> None:
    x = make_project(workdir)
    stats = os.path.join(workdir, "configs", "dataset_stat.json")
    original = read(stats)
    profile = write_profile(workdir)
    dry = cli(state_dir, "stats", "localhost", "--profile", profile, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "compute_stats.py" in dry.stdout and "new entry 'agilex'" in dry.stdout
    assert "nothing written (dry run)" in dry.stdout
    assert read(stats) == original and not glob.glob(stats + ".bak-*")

    done = cli(state_dir, "stats", "localhost", "--profile", profile, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["written"] and result["method"] == "script" and result["status"] == "pass"
    assert read(result["backup"]) == original
    doc = json.loads(read(stats))
    assert doc["bridge"] == json.loads(original)["bridge"]
    ref = reference(x)
    for ours, theirs in (("mean", "state_mean"), ("std", "state_std"), ("min", "state_min")):
        np.testing.assert_allclose(np.array(doc["agilex"][theirs])[SLOTS], ref[ours], rtol=1e-12)
    grippers = [doc["agilex"]["state_max"][SLOTS[d]] for d in GRIPPERS]
    assert min(grippers) > 0.9 and max(grippers) <= 1.0  # mapped to [0, 1] by the script

    # The built-in computation with the same per-dimension scaling gives the same entry.
    builtin = write_profile(
        workdir,
        "builtin",
        dataset_dir='"data"',
        stats_keys='["observations/qpos"]',
        stats_index_map=json.dumps(SLOTS),
        stats_scale="{ 6 = 4.7908, 13 = 4.7888 }",
    )
    same = cli(state_dir, "stats", "localhost", "--profile", builtin, "--json")
    assert same.returncode == 0, same.stderr
    entry = json.loads(same.stdout)["entry"]
    for key in ("state_mean", "state_std", "state_min", "state_max"):
        np.testing.assert_allclose(entry[key], doc["agilex"][key], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("nan", "state_std is NaN or Inf at dimension 53"),
        ("flat", "state_std is 0 where values vary"),
        ("crash", "the statistics script failed (exit 1): HDF5VLADataset: no episode"),
    ],
)
def test_a_script_whose_statistics_fail_is_refused_and_the_file_kept(
    state_dir: str, workdir: str, mode: str, said: str
) -> None:
    make_project(workdir)
    stats = os.path.join(workdir, "configs", "dataset_stat.json")
    original = read(stats)
    profile = write_profile(workdir, mode)
    done = cli(state_dir, "stats", "localhost", "--profile", profile, timeout=60)
    assert done.returncode == 1 and said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert read(stats) == original and not glob.glob(stats + ".bak-*")
    if mode != "crash":
        # The dry run shows the failing entry (NaN as null on the wire) and says it fails.
        dry = cli(state_dir, "stats", "localhost", "--profile", profile, "--dry-run", "--json")
        assert dry.returncode == 1, dry.stderr
        result = json.loads(dry.stdout)
        assert result["status"] == "fail" and any(said in p for p in result["problems"])
        if mode == "nan":
            assert result["entry"]["state_std"][53] is None
        assert read(stats) == original


def test_nan_in_the_dataset_fails_clearly_and_never_hangs(state_dir: str, workdir: str) -> None:
    make_project(workdir)
    with h5py.File(os.path.join(workdir, "data", "ep1.hdf5"), "r+") as f:
        q = f["observations/qpos"]
        row = q[10]
        row[3] = np.nan
        q[10] = row
        row = q[20]
        row[3], row[9] = np.inf, np.nan
        q[20] = row
    stats = os.path.join(workdir, "configs", "dataset_stat.json")
    original = read(stats)
    profile = write_profile(
        workdir, "builtin", dataset_dir='"data"', stats_keys='["observations/qpos"]'
    )
    for extra in (["--dry-run"], []):
        done = cli(state_dir, "stats", "localhost", "--profile", profile, *extra, timeout=60)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "the data holds NaN or Inf" in done.stderr
        assert "observations/qpos dimension 3: 2 value(s), first in ep1.hdf5" in done.stderr
        assert (
            "row 10" in done.stderr and "observations/qpos dimension 9: 1 value(s)" in done.stderr
        )
        assert read(stats) == original


def test_scale_factors_equal_numpy(workdir: str) -> None:
    x = make_project(workdir)
    got = compute(os.path.join(workdir, "data"), "*.hdf5", ["observations/qpos"], 16, GRIPPERS)
    ref = reference(x)
    np.testing.assert_allclose(got["mean"], ref["mean"], rtol=1e-12)
    np.testing.assert_allclose(got["std_rdt"], ref["std"], rtol=1e-10)
    np.testing.assert_allclose(got["min"], ref["min"])
    np.testing.assert_allclose(got["max"], ref["max"])
    scaled = x / np.array([GRIPPERS.get(i, 1.0) for i in range(14)])
    np.testing.assert_allclose(got["std_plain"], scaled.std(0), rtol=1e-10)


@pytest.mark.parametrize(
    "line",
    [
        "stats_scale = { x = 2.0 }",
        "stats_scale = { 6 = 0 }",
        "stats_scale = { 6 = -1.5 }",
        'stats_command = ["python", "s.py"]',
    ],
)
def test_bad_statistics_keys_are_refused_when_the_profile_loads(workdir: str, line: str) -> None:
    path = os.path.join(workdir, "p.toml")
    with open(path, "w") as fh:
        fh.write(f'command = ["true"]\n[preflight]\n{line}\n')
    with pytest.raises(ProfileError, match="stats_"):
        load_profile(path)


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_script_that_never_ends_is_stopped_at_the_timeout(state_dir: str, workdir: str) -> None:
    make_project(workdir)
    stats = os.path.join(workdir, "configs", "dataset_stat.json")
    original = read(stats)
    profile = write_profile(workdir, "hang")
    done = cli(state_dir, "stats", "localhost", "--profile", profile, "--timeout", "3", timeout=90)
    assert done.returncode == 1, done.stdout
    assert "not done within 3 s; stopped, nothing was written" in done.stderr
    assert "--timeout" in done.stderr and read(stats) == original
    with open(os.path.join(workdir, "pids")) as fh:
        pids = [int(p) for p in fh.read().split()]
    deadline = time.monotonic() + 60
    while not all(gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(gone(p) for p in pids), pids  # the script and its worker


def test_the_preflight_fix_runs_the_projects_script(state_dir: str, workdir: str) -> None:
    """The `stats` check offers its fix from stats_command alone (no dataset keys), and the
    fix runs the script, as `rdt-tui stats` does."""
    x = make_project(workdir)
    profile = write_profile(workdir, hub="false", cpu="true", packages='["h5py"]')
    done = cli(state_dir, "preflight", "localhost", "--profile", profile, "--fix", "stats")
    assert "fixed stats" in done.stdout, done.stdout + done.stderr
    stats = os.path.join(workdir, "configs", "dataset_stat.json")
    written = json.loads(read(stats))["agilex"]["state_std"]
    np.testing.assert_allclose(np.array(written)[SLOTS], reference(x)["std"], rtol=1e-12)
    assert len(glob.glob(stats + ".bak-*")) == 1


def test_nan_names_the_key_and_dimension_among_several_keys(workdir: str) -> None:
    rng = np.random.default_rng(1)
    os.makedirs(os.path.join(workdir, "data"))
    for i in range(2):
        with h5py.File(os.path.join(workdir, "data", f"ep{i}.hdf5"), "w") as f:
            for d in range(2):
                joints, gripper = rng.normal(size=(30, 7)), rng.normal(size=(30, 2))
                if (i, d) == (1, 1):
                    gripper[5, 1] = np.nan
                f[f"data/demo_{d}/obs/joint_states"] = joints
                f[f"data/demo_{d}/obs/gripper_states"] = gripper
    keys = ["data/*/obs/joint_states", "data/*/obs/gripper_states"]
    with pytest.raises(StatsError) as caught:
        compute(os.path.join(workdir, "data"), "*.hdf5", keys, chunk_rows=8)
    assert str(caught.value).endswith(
        "data/*/obs/gripper_states dimension 1: 1 value(s), "
        "first in ep1.hdf5 data/demo_1/obs/gripper_states row 5"
    )
