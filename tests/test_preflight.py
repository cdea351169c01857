"""Preflight: the rules on crafted facts, facts from crafted trees, statistics against a numpy
reference, bad statistics files left byte for byte, manifests, and the CLI on a real agent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

import pytest

from rdt_tui.agent import facts as node_facts
from rdt_tui.agent.manifest import manifest
from rdt_tui.agent.preflight_ops import compute_stats
from rdt_tui.agent.statsjob import StatsError, compute
from rdt_tui.core.manifest_diff import diff_manifests
from rdt_tui.core.preflight import evaluate
from rdt_tui.core.stats import check_entry, make_entry, place
from rdt_tui.protocol.errors import AgentError

np = pytest.importorskip("numpy")
h5py = pytest.importorskip("h5py")

PY = sys.executable


def by_id(checks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in checks}


def status_of(facts: dict[str, Any], params: dict[str, Any], cid: str) -> str:
    return str(by_id(evaluate(facts, params))[cid]["status"])


# ----- rules on fake facts ----------------------------------------------------------------
GPU = {"index": 0, "name": "A100", "mem_total": 80 << 30, "mem_used": 1 << 30, "processes": []}


def test_each_rule_passes_warns_and_fails_on_fake_facts() -> None:
    interp = {
        "found": True,
        "executable": "/env/bin/python",
        "version": "3.10",
        "packages": {"torch": {"ok": True, "version": "2.1"}},
        "cuda": {"available": True, "devices": 2},
    }
    base: dict[str, Any] = {"interpreter": interp}
    p = {"processes": 2}
    gpus = {"devices": [dict(GPU, index=0), dict(GPU, index=1)], "live_runs": []}
    assert status_of(dict(base, gpus=gpus), p, "gpus") == "pass"
    assert status_of(dict(base, gpus=dict(gpus, visible="0")), p, "gpus") == "fail"
    other = dict(GPU, index=1, processes=[{"pid": 9, "run": None}])
    assert status_of(dict(base, gpus={"devices": [GPU, other]}), p, "gpus") == "warn"
    slow_start = {"devices": [dict(GPU, persistence=0), dict(GPU, index=1, persistence=1)]}
    assert status_of(dict(base, gpus=slow_start), p, "gpus") == "warn"
    busy = dict(gpus, live_runs=[{"id": "r1", "gpus": ["1"]}])
    assert status_of(dict(base, gpus=busy), p, "gpus") == "fail"
    assert status_of(dict(base, gpus={"devices": [], "reason": "no driver"}), p, "gpus") == "fail"
    assert status_of(dict(base, gpus={}), {"cpu": True}, "gpus") == "skip"
    # interpreter, packages, CUDA
    assert status_of({"interpreter": {"found": False, "error": "x"}}, {}, "python") == "fail"
    missing = dict(interp, packages={"h5py": {"ok": False, "error": "ModuleNotFoundError"}})
    assert status_of({"interpreter": missing}, {}, "packages") == "fail"
    assert status_of(base, {"_nvml_devices": 2}, "cuda") == "pass"
    assert status_of(base, {"_nvml_devices": 4}, "cuda") == "warn"
    no_cuda = dict(interp, cuda={"available": False, "devices": 0})
    assert status_of({"interpreter": no_cuda}, {}, "cuda") == "fail"
    # dataset
    assert status_of({"dataset": {"is_dir": True, "count": 3, "bytes": 9}}, {}, "dataset") == "pass"
    assert status_of({"dataset": {"is_dir": True, "count": 0}}, {}, "dataset") == "fail"
    assert status_of({"dataset": {"is_dir": False}}, {}, "dataset") == "fail"
    # weights
    ok_w = {"exists": True, "is_dir": True, "files": {"pytorch_model.bin": 2 << 20}}
    assert status_of({"weights": ok_w}, {}, "weights") == "pass"
    assert "pytorch_model.bin" in by_id(evaluate({"weights": ok_w}, {}))["weights"]["detail"]
    tiny = {"exists": True, "is_dir": True, "files": {"model.safetensors": 10}}
    assert status_of({"weights": tiny}, {}, "weights") == "fail"
    assert status_of({"weights": {"exists": False}}, {}, "weights") == "fail"
    # encoders
    enc = {"name": "google/t5-v1_1-xxl", "local": "/w/google/t5-v1_1-xxl"}
    assert status_of({"encoders": [dict(enc, local_exists=True)]}, {}, "encoder") == "pass"
    warn = by_id(evaluate({"encoders": [enc]}, {}))["encoder"]
    assert warn["status"] == "warn" and "GiB" in warn["detail"]
    # output and disk
    out = {
        "path": "/o",
        "exists": True,
        "writable": True,
        "disk": {"free": 100 << 30},
        "checkpoints": [{"size": 10 << 30}],
    }
    assert status_of({"output": out}, {"keep_checkpoints": 3}, "output") == "pass"
    assert status_of({"output": out}, {"keep_checkpoints": 10}, "output") == "fail"
    assert status_of({"output": out}, {"ignores_total_limit": True}, "output") == "warn"
    assert status_of({"output": dict(out, writable=False)}, {}, "output") == "fail"
    # script
    script = {"path": "/w/train.sh", "exists": True, "executable": False}
    direct = {"argv": ["./train.sh"]}
    assert status_of({"script": script}, direct, "script") == "fail"
    assert status_of({"script": script}, {"argv": ["bash", "train.sh"]}, "script") == "pass"
    assert status_of({"script": {"exists": False, "path": "x"}}, {}, "script") == "fail"
    # network and trackers, launch hazards
    assert status_of({"hub": {"reachable": True}}, {}, "hub") == "pass"
    assert status_of({"hub": {"reachable": False}}, {}, "hub") == "warn"
    assert status_of({"wandb": {"mode": "offline"}}, {}, "wandb") == "pass"
    assert status_of({"wandb": {}}, {}, "wandb") == "warn"
    assert status_of({"master_port": {"port": 1, "free": False}}, {}, "master_port") == "warn"
    hazard = {"argv": ["accelerate", "launch", "--cpu", "x.py"], "processes": 2}
    assert status_of({}, hazard, "launcher") == "fail"
    assert status_of({}, dict(hazard, processes=1), "launcher") == "pass"
    # configs
    assert (
        status_of(
            {"configs": [{"path": "a.json", "exists": True, "parsed": {"ok": True}}]}, {}, "config"
        )
        == "pass"
    )
    assert (
        status_of(
            {
                "configs": [
                    {"path": "a.yaml", "exists": True, "parsed": {"ok": False, "error": "bad"}}
                ]
            },
            {},
            "config",
        )
        == "fail"
    )


def good_entry(dim: int = 128, used: int = 14) -> dict[str, Any]:
    mean = [0.1] * used + [0.0] * (dim - used)
    return {
        "dataset_name": "agilex",
        "state_mean": mean,
        "state_std": [0.5] * used + [0.0] * (dim - used),
        "state_min": [-1.0] * used + [0.0] * (dim - used),
        "state_max": [1.0] * used + [0.0] * (dim - used),
    }


def test_statistics_rules() -> None:
    assert check_entry(good_entry(), 128) == ("pass", [])
    nan = good_entry()
    nan["state_std"][3] = float("nan")
    assert check_entry(nan, 128)[0] == "fail"
    short = good_entry(dim=64)
    assert "not 128" in " ".join(check_entry(short, 128)[1])
    huge = good_entry()
    huge["state_std"][0] = 500.0
    assert check_entry(huge, 128)[0] == "fail"
    odd = good_entry()
    odd["state_std"][0] = 20.0
    assert check_entry(odd, 128)[0] == "warn"
    order = good_entry()
    order["state_mean"][2] = 5.0
    assert check_entry(order, 128)[0] == "fail"
    missing = good_entry()
    del missing["state_min"]
    assert check_entry(missing, 128)[0] == "fail"


# ----- statistics against numpy -----------------------------------------------------------
def make_dataset(root: str, libero: bool = False) -> list[Any]:
    """Three files; dims 0-13 random, dim 5 all zero, dim 7 mostly zero. Returns the arrays."""
    rng = np.random.default_rng(7)
    os.makedirs(root, exist_ok=True)
    arrays = []
    for i in range(3):
        path = os.path.join(root, f"ep{i}.hdf5")
        with h5py.File(path, "w") as f:
            for d in range(2 if libero else 1):
                x = rng.normal(0.2, 0.7, (50 + 17 * i + d, 14))
                x[:, 5] = 0.0
                x[: len(x) // 2, 7] = 0.0
                arrays.append(x)
                if libero:
                    f[f"data/demo_{d}/obs/joint_states"] = x[:, :7]
                    f[f"data/demo_{d}/obs/gripper_states"] = x[:, 7:]
                else:
                    f["observations/qpos"] = x.astype("float64")
    return arrays


def rdt_reference(x: Any) -> tuple[Any, Any]:
    """RDT's compute_dataset_stat_hdf5.py, written out with numpy."""
    z = np.where(np.abs(x) > 1e-8, x, 0.0)
    n = x.shape[0]
    nz = np.maximum((np.abs(x) > 1e-8).sum(0), 1)
    mean = x.sum(0) / n
    std = np.sqrt(np.maximum((z**2).sum(0) / nz - (z.sum(0) / n) ** 2 * (n / nz), 0))
    return mean, std


@pytest.mark.parametrize("libero", [False, True])
def test_statistics_equal_a_numpy_reference(workdir: str, libero: bool) -> None:
    arrays = make_dataset(os.path.join(workdir, "data"), libero)
    keys = (
        ["data/*/obs/joint_states", "data/*/obs/gripper_states"]
        if libero
        else ["observations/qpos"]
    )
    got = compute(os.path.join(workdir, "data"), "*.hdf5", keys, chunk_rows=16)
    x = np.concatenate(arrays)
    mean, rdt_std = rdt_reference(x)
    assert got["rows"] == x.shape[0] and got["dims"] == 14
    assert got["episodes"] == (6 if libero else 3)
    np.testing.assert_allclose(got["mean"], mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got["std_plain"], x.std(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got["std_rdt"], rdt_std, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got["min"], x.min(0))
    np.testing.assert_allclose(got["max"], x.max(0))
    assert got["std_rdt"][5] == 0.0 and got["std_plain"][5] == 0.0
    assert got["std_rdt"][7] > x.std(0)[7]  # fewer non-zero entries: a larger RDT std
    index_map = list(range(50, 64))
    entry = make_entry("libero", got, "rdt", 128, index_map)
    assert entry["state_mean"][50:64] == pytest.approx(list(mean))
    assert entry["state_std"][:50] == [0.0] * 50 and len(entry["state_std"]) == 128
    with pytest.raises(ValueError):
        place([1.0, 2.0], 128, [0])


def stats_params(workdir: str, **extra: Any) -> dict[str, Any]:
    return dict(
        python=PY,
        dataset_dir="data",
        stats_file="configs/dataset_stat.json",
        dataset_name="agilex",
        stats_keys=["observations/qpos"],
        stats_index_map=list(range(14)),
        **extra,
    )


def test_stats_are_written_atomically_with_a_backup_and_other_entries_kept(workdir: str) -> None:
    make_dataset(os.path.join(workdir, "data"))
    os.makedirs(os.path.join(workdir, "configs"))
    path = os.path.join(workdir, "configs", "dataset_stat.json")
    other = good_entry()
    other["dataset_name"] = "bridge"
    with open(path, "w") as fh:
        json.dump({"bridge": other}, fh)
    with open(path, "rb") as fh:
        before = fh.read()
    dry = compute_stats(stats_params(workdir), workdir, "rdt", write=False)
    assert not dry["written"] and dry["changes"] == ["new entry 'agilex'"]
    with open(path, "rb") as fh:
        assert fh.read() == before
    done = compute_stats(stats_params(workdir), workdir, "rdt", write=True)
    assert done["written"] and done["status"] == "pass"
    with open(done["backup"], "rb") as fh:
        assert fh.read() == before
    with open(path) as fh:
        doc = json.load(fh)
    assert doc["bridge"] == other and len(doc["agilex"]["state_std"]) == 128
    again = compute_stats(stats_params(workdir), workdir, "plain", write=False)
    assert any("state_std" in line for line in again["changes"])  # dims 7 differs by method


@pytest.mark.parametrize(
    "damage", ["truncated", "nan", "missing_key", "corrupt_hdf5", "no_such_key"]
)
def test_bad_inputs_fail_clearly_and_leave_the_statistics_file_unchanged(
    workdir: str, damage: str
) -> None:
    make_dataset(os.path.join(workdir, "data"))
    os.makedirs(os.path.join(workdir, "configs"))
    path = os.path.join(workdir, "configs", "dataset_stat.json")
    entry = good_entry()
    text = json.dumps({"agilex": entry})
    params = stats_params(workdir)
    if damage == "truncated":
        text = text[: len(text) // 2]
    elif damage == "nan":
        entry["state_std"][3] = float("nan")
        text = json.dumps({"agilex": entry})  # NaN: Python writes it, JSON has no such thing
    elif damage == "missing_key":
        text = json.dumps({"bridge": entry})
    elif damage == "corrupt_hdf5":
        with open(os.path.join(workdir, "data", "ep1.hdf5"), "r+b") as fh:
            fh.write(b"\0" * 512)
    elif damage == "no_such_key":
        params["stats_keys"] = ["observations/nope"]
    with open(path, "w") as fh:
        fh.write(text)
    with open(path, "rb") as fh:
        before = fh.read()
    facts = {"stats_file": node_facts.text_file(path)}
    check = by_id(evaluate(facts, dict(params, state_dim=128)))["stats"]
    if damage in ("truncated", "nan", "missing_key"):
        assert check["status"] == "fail", check
    if damage == "truncated":
        assert "not valid JSON" in check["detail"] and "fix" not in check
    if damage == "nan":
        assert "NaN" in check["detail"]
    if damage == "missing_key":
        assert "KeyError" in check["detail"] and check["fix"]["op"] == "stats"
    try:
        compute_stats(params, workdir, "rdt", write=True)
    except AgentError as exc:
        assert damage in ("truncated", "corrupt_hdf5", "no_such_key"), exc.message
        assert exc.message and "Traceback" not in exc.message
        if damage == "corrupt_hdf5":
            assert "ep1.hdf5" in exc.message
    else:
        assert damage in ("nan", "missing_key")  # those are what the fix repairs
    with open(path, "rb") as fh:
        after = fh.read()
    if damage in ("truncated", "corrupt_hdf5", "no_such_key"):
        assert after == before


def test_statsjob_names_a_missing_dataset(workdir: str) -> None:
    with pytest.raises(StatsError, match="no file"):
        compute(workdir, "*.hdf5", ["x"])


# ----- facts from crafted trees -----------------------------------------------------------
def test_facts_from_a_crafted_tree(workdir: str) -> None:
    os.makedirs(os.path.join(workdir, "w"))
    with open(os.path.join(workdir, "w", "pytorch_model.bin"), "wb") as fh:
        fh.write(b"x" * 100)
    with open(os.path.join(workdir, "run.sh"), "w") as fh:
        fh.write("#!/bin/sh\n")
    with open(os.path.join(workdir, "c.json"), "w") as fh:
        fh.write("{bad json")
    with open(os.path.join(workdir, "c.toml"), "w") as fh:
        fh.write('a = "ok"\n')
    hub_cache = os.path.join(workdir, "hf", "hub", "models--google--siglip", "snapshots")
    os.makedirs(hub_cache)
    params = {
        "python": PY,
        "packages": ["json", "no_such_package_xyz"],
        "weights": "w",
        "script": "run.sh",
        "configs": ["c.json", "c.toml", "missing.yaml"],
        "encoders": ["google/siglip", "google/t5"],
        "output_dir": "out",
        "hub": False,
    }
    f = node_facts.gather(params, workdir, {"HF_HOME": os.path.join(workdir, "hf")}, {}, [])
    checks = by_id(evaluate(f, dict(params, argv=["./run.sh"], cpu=True)))
    assert (
        checks["packages"]["status"] == "fail"
        and "no_such_package_xyz" in checks["packages"]["detail"]
    )
    assert checks["weights"]["status"] == "fail"  # 100 bytes is no model
    assert (
        checks["script"]["status"] == "fail"
        and checks["script"]["fix"]["args"]["action"] == "chmod_x"
    )
    configs = [c for c in evaluate(f, params) if c["id"] == "config"]
    assert [c["status"] for c in configs] == ["fail", "pass", "fail"]
    encoders = [c for c in evaluate(f, params) if c["id"] == "encoder"]
    assert [c["status"] for c in encoders] == ["pass", "warn"]
    assert (
        checks["output"]["status"] == "warn"
        and checks["output"]["fix"]["args"]["action"] == "mkdir"
    )


# ----- manifests and the CLI on a real agent ----------------------------------------------
def test_manifest_matches_md5sum_and_a_flipped_byte_is_found(workdir: str) -> None:
    src = os.path.join(workdir, "a")
    make_dataset(src)
    dst = os.path.join(workdir, "b")
    shutil.copytree(src, dst)
    with open(os.path.join(dst, "ep2.hdf5"), "r+b") as fh:
        fh.seek(3000)
        byte = fh.read(1)
        fh.seek(3000)
        fh.write(bytes([byte[0] ^ 0x01]))
    os.remove(os.path.join(dst, "ep0.hdf5"))
    open(os.path.join(dst, "extra.hdf5"), "wb").close()
    ours = manifest(src, "*.hdf5", workers=2)
    md5sum = subprocess.run(
        ["md5sum", *sorted(os.listdir(src))], cwd=src, capture_output=True, text=True, check=True
    ).stdout
    assert {line.split()[1]: line.split()[0] for line in md5sum.splitlines()} == {
        k: v["md5"] for k, v in ours["files"].items()
    }
    diff = diff_manifests(ours, manifest(dst, "*.hdf5"))
    assert diff["different"] == ["ep2.hdf5"] and diff["missing"] == ["ep0.hdf5"]
    assert diff["extra"] == ["extra.hdf5"] and diff["same"] == ["ep1.hdf5"]


def cli(state_dir: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RDT_TUI_STATE_DIR=state_dir)
    return subprocess.run(
        [PY, "-m", "rdt_tui.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_preflight_cli_fixes_and_diff_dataset_on_the_local_agent(
    state_dir: str, workdir: str
) -> None:
    make_dataset(os.path.join(workdir, "data"))
    shutil.copytree(os.path.join(workdir, "data"), os.path.join(workdir, "local"))
    with open(os.path.join(workdir, "train.sh"), "w") as fh:
        fh.write("#!/bin/sh\necho step=1 loss=0.5\n")
    profile = os.path.join(workdir, "p.toml")
    with open(profile, "w") as fh:
        fh.write(
            f'command = ["./train.sh"]\ncwd = "{workdir}"\n[env]\nWANDB_MODE = "offline"\n'
            f'[preflight]\npython = "{PY}"\npackages = ["h5py"]\ncpu = true\nhub = false\n'
            'dataset_dir = "data"\nlocal_dataset_dir = "' + os.path.join(workdir, "local") + '"\n'
            'stats_file = "configs/dataset_stat.json"\ndataset_name = "agilex"\n'
            'stats_keys = ["observations/qpos"]\nscript = "train.sh"\noutput_dir = "out"\n'
        )
    first = cli(state_dir, "preflight", "localhost", "--profile", profile, "--json")
    assert first.returncode == 1, first.stderr
    failed = {c["id"] for c in json.loads(first.stdout)["checks"] if c["status"] == "fail"}
    assert failed == {"stats", "script"}
    for fix in ("stats", "script", "output"):
        done = cli(state_dir, "preflight", "localhost", "--profile", profile, "--fix", fix)
        assert "fixed " + fix in done.stdout, done.stdout + done.stderr
    final = cli(state_dir, "preflight", "localhost", "--profile", profile, "--json")
    assert final.returncode == 0, final.stdout
    assert os.access(os.path.join(workdir, "train.sh"), os.X_OK)
    same = cli(state_dir, "diff-dataset", "localhost", "--profile", profile, "--json")
    assert same.returncode == 0 and json.loads(same.stdout)["check"]["status"] == "pass"
    with open(os.path.join(workdir, "data", "ep1.hdf5"), "r+b") as fh:
        fh.seek(100)
        b = fh.read(1)
        fh.seek(100)
        fh.write(bytes([b[0] ^ 0xFF]))
    flipped = cli(state_dir, "diff-dataset", "localhost", "--profile", profile, "--json")
    assert flipped.returncode == 1
    assert json.loads(flipped.stdout)["diff"]["different"] == ["ep1.hdf5"]
    dry = cli(
        state_dir, "stats", "localhost", "--profile", profile, "--method", "plain", "--dry-run"
    )
    assert dry.returncode == 0 and "dry run" in dry.stdout
    bad = cli(state_dir, "preflight", "localhost", "--profile", os.path.join(workdir, "no.toml"))
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "no.toml" in bad.stderr
