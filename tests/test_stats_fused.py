"""The fused statistics pass (whole blocks reduced side by side) against numpy, on blocks
large enough to take it, and on every case that must leave it for the exact path: entries
near zero, a mean far above the spread, NaN, a negative scale, compressed chunks, float32,
two keys concatenated."""

from __future__ import annotations

from typing import Any

import pytest

from rdt_tui.agent.statsjob import StatsError, compute

np = pytest.importorskip("numpy")
h5py = pytest.importorskip("h5py")


def reference(x: Any) -> dict[str, Any]:
    nz_mask = np.abs(x) > 1e-8
    z = np.where(nz_mask, x, 0.0)
    n = x.shape[0]
    nz = np.maximum(nz_mask.sum(0), 1)
    rdt = (z**2).sum(0) / nz - (z.sum(0) / n) ** 2 * (n / nz)
    return {
        "mean": x.mean(0),
        "std_plain": x.std(0),
        "std_rdt": np.sqrt(np.maximum(rdt, 0)),
        "min": x.min(0),
        "max": x.max(0),
    }


def check(got: dict[str, Any], x: Any) -> None:
    ref = reference(x)
    assert got["rows"] == x.shape[0]
    np.testing.assert_allclose(got["mean"], ref["mean"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got["std_plain"], ref["std_plain"], rtol=1e-10, atol=1e-12)
    # RDT's formula subtracts two numbers 1e10 times larger than their difference in
    # column 1 (mean 1000, std 0.01): any summation order moves it by ~1e-5 there.
    rtol = np.full(x.shape[1], 1e-10)
    rtol[1] = 1e-3
    for got_i, ref_i, r in zip(got["std_rdt"], ref["std_rdt"], rtol, strict=True):
        assert got_i == pytest.approx(ref_i, rel=r, abs=1e-12)
    np.testing.assert_array_equal(got["min"], ref["min"])
    np.testing.assert_array_equal(got["max"], ref["max"])


def columns(rows: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.5, (rows, 9))
    x[:, 1] = 1000.0 + rng.normal(0, 1e-2, rows)  # |mean| >> std: the centred path
    x[:, 2] = 3.25  # constant: std exactly 0
    x[:, 3] = 0.0  # all zero: the RDT std 0, nz clamped to 1
    x[rows // 3 :: 997, 4] = 0.0  # a few zeros: those blocks take the exact path
    x[::5, 5] = 5e-9  # below EPS: counted as zero by RDT's rule
    x[:, 6] = np.abs(x[:, 6]) + 1.0  # positive: the zero check is skipped
    return x


def write(path: str, x: Any, **kw: Any) -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset("observations/qpos", data=x, **kw)


@pytest.mark.parametrize(
    "kw",
    [{}, {"chunks": (1000, 9)}, {"chunks": (1024, 9), "compression": "gzip"}],
    ids=["contiguous", "chunked", "gzip"],
)
def test_fused_blocks_equal_numpy(tmp_path: Any, kw: dict[str, Any]) -> None:
    parts = [columns(70_001, 1), columns(30_000, 2), columns(1_500, 3), columns(1_100, 4)]
    for i, x in enumerate(parts):
        write(str(tmp_path / f"ep{i}.hdf5"), x, **kw)
    got = compute(str(tmp_path), "*.hdf5", ["observations/qpos"])
    check(got, np.concatenate(parts))
    assert got["std_plain"][2] == 0.0 and got["std_rdt"][3] == 0.0


def test_float32_and_two_keys_concatenated(tmp_path: Any) -> None:
    x = columns(40_000, 5)
    with h5py.File(str(tmp_path / "a.hdf5"), "w") as f:
        f["data/demo_0/obs/joint_states"] = x[:, :7].astype(np.float32)
        f["data/demo_0/obs/gripper_states"] = x[:, 7:]
    got = compute(str(tmp_path), "*.hdf5", ["data/*/obs/joint_states", "data/*/obs/gripper_states"])
    check(got, np.concatenate([x[:, :7].astype(np.float32).astype(np.float64), x[:, 7:]], 1))


def test_scale_with_a_negative_factor(tmp_path: Any) -> None:
    x = columns(50_000, 6)
    write(str(tmp_path / "a.hdf5"), x)
    scale: dict[Any, float] = {0: -2.0, 6: 4.7908, "8": 0.5}
    got = compute(str(tmp_path), "*.hdf5", ["observations/qpos"], scale=scale)
    divide = np.ones(9)
    for dim, factor in scale.items():
        divide[int(dim)] = factor
    check(got, x / divide)


def test_nan_in_a_large_block_is_named(tmp_path: Any) -> None:
    x = columns(50_000, 7)
    x[43_210, 8] = np.nan
    write(str(tmp_path / "a.hdf5"), x)
    with pytest.raises(StatsError, match=r"observations/qpos dimension 8: 1 value.*row 43210"):
        compute(str(tmp_path), "*.hdf5", ["observations/qpos"])


def test_huge_finite_values_overflowing_the_sum_are_not_nan(tmp_path: Any) -> None:
    x = columns(20_000, 8)
    x[:, 7] = 1e300  # its sum of squares overflows: the exact path, not a NaN report
    write(str(tmp_path / "a.hdf5"), x)
    got = compute(str(tmp_path), "*.hdf5", ["observations/qpos"])
    assert got["mean"][7] == pytest.approx(1e300) and got["max"][7] == 1e300


def test_one_float32_key_read_straight_into_float64(tmp_path: Any) -> None:
    x = columns(60_000, 9).astype(np.float32)
    write(str(tmp_path / "a.hdf5"), x, chunks=(8192, 9))
    got = compute(str(tmp_path), "*.hdf5", ["observations/qpos"])
    check(got, x.astype(np.float64))
