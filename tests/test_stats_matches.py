"""The statistics job's key patterns (``statsread.matches``): names between wildcards are
looked up as one path, and ``*`` lists a level; a missing name matches nothing, and a dataset
at a ``*`` level with names below it is passed over (it holds no path below it: asked for a
name in it, h5py iterated its rows, and a 2-D one failed the whole job with a ValueError)."""

from __future__ import annotations

from typing import Any

import pytest

from rdt_tui.agent.statsjob import StatsError, compute
from rdt_tui.agent.statsread import matches

np = pytest.importorskip("numpy")
h5py = pytest.importorskip("h5py")


def test_wildcards_and_literal_runs(tmp_path: Any) -> None:
    with h5py.File(str(tmp_path / "a.hdf5"), "w") as f:
        for demo in ("demo_1", "demo_0", "demo_10"):
            f[f"data/{demo}/obs/joint_states"] = [[0.0]]
            f[f"data/{demo}/obs/arm/0/q"] = [[0.0]]
            f[f"data/{demo}/obs/arm/1/q"] = [[0.0]]
        f["data/demo_2/actions"] = [[0.0]]  # no obs below it
        f["data/mask"] = np.zeros((4, 2))  # a dataset at the * level
        f["observations/qpos"] = [[0.0]]
    with h5py.File(str(tmp_path / "a.hdf5"), "r") as f:
        assert matches(f, ["observations", "qpos"]) == ["observations/qpos"]
        assert matches(f, ["observations", "nothing"]) == []
        assert matches(f, ["nothing", "qpos"]) == []
        assert matches(f, ["data", "*", "obs", "joint_states"]) == [
            "data/demo_0/obs/joint_states",
            "data/demo_1/obs/joint_states",
            "data/demo_10/obs/joint_states",
        ]
        assert matches(f, ["data", "*", "obs", "arm", "*", "q"]) == [
            f"data/{demo}/obs/arm/{i}/q" for demo in ("demo_0", "demo_1", "demo_10") for i in "01"
        ]
        assert matches(f, ["data", "*"]) == [
            "data/demo_0",
            "data/demo_1",
            "data/demo_10",
            "data/demo_2",
            "data/mask",
        ]
        assert matches(f, ["*", "qpos"]) == ["observations/qpos"]


def test_a_dataset_beside_the_episodes_is_passed_over_by_the_job(tmp_path: Any) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 7))
    with h5py.File(str(tmp_path / "a.hdf5"), "w") as f:
        f["data/demo_0/obs/joint_states"] = x
        f["data/mask"] = np.zeros((6, 3))  # robomimic-style filter keys live beside demos
    got = compute(str(tmp_path), "*.hdf5", ["data/*/obs/joint_states"])
    assert got["episodes"] == 1 and got["rows"] == 50
    np.testing.assert_allclose(got["mean"], x.mean(0), rtol=1e-12)


def test_a_key_naming_a_group_is_a_clear_error(tmp_path: Any) -> None:
    with h5py.File(str(tmp_path / "a.hdf5"), "w") as f:
        f["data/demo_0/obs/joint_states"] = np.zeros((5, 7))
    with pytest.raises(StatsError, match="data/demo_0/obs is a group, not a dataset"):
        compute(str(tmp_path), "*.hdf5", ["data/*/obs"])


def test_keys_that_match_no_episode_or_fewer_are_named(tmp_path: Any) -> None:
    with h5py.File(str(tmp_path / "a.hdf5"), "w") as f:
        for demo in ("demo_0", "demo_1"):
            f[f"data/{demo}/obs/joint_states"] = np.zeros((5, 7))
        f["data/demo_0/obs/gripper_states"] = np.zeros((5, 2))  # demo_1 has none
    keys = ["data/*/obs/joint_states", "data/*/obs/eef_pos"]
    with pytest.raises(StatsError, match=r"a.hdf5 has no dataset data/\*/obs/eef_pos"):
        compute(str(tmp_path), "*.hdf5", keys)
    keys = ["data/*/obs/joint_states", "data/*/obs/gripper_states"]
    with pytest.raises(StatsError, match="the keys match different numbers of episodes"):
        compute(str(tmp_path), "*.hdf5", keys)


def test_a_dangling_link_is_a_clear_error_not_a_crash(tmp_path: Any) -> None:
    with h5py.File(str(tmp_path / "a.hdf5"), "w") as f:
        f["data/demo_0/obs/joint_states"] = np.ones((5, 7))
        f["data/demo_1/obs/joint_states"] = h5py.SoftLink("/nowhere")  # a name, no object
    with pytest.raises(StatsError, match=r"a\.hdf5: cannot open data/demo_1/obs/joint_states"):
        compute(str(tmp_path), "*.hdf5", ["data/*/obs/joint_states"])


def test_a_key_naming_a_single_value_is_a_clear_error(tmp_path: Any) -> None:
    with h5py.File(str(tmp_path / "a.hdf5"), "w") as f:
        f["data/demo_0/obs/joint_states"] = np.zeros((5, 7))
        f["data/demo_0/num_samples"] = 5  # a scalar dataset: no rows
    with pytest.raises(StatsError, match="data/demo_0/num_samples is a single value, not rows"):
        compute(str(tmp_path), "*.hdf5", ["data/*/num_samples"])
