"""The statistics job's fused pass (``agent/statsfused.py``) against a straightforward numpy
computation: the minimum and maximum come from integer reductions of the float bits, and the
entries within EPS of zero are found from the smallest value on each side of zero, so every
sign pattern is checked: all positive, all negative, mixed, signed zeros, entries near zero on
one side only, exactly at EPS, subnormals; at every size (no fold, a fold with rows left over,
several sub-blocks), with and without a scale (a negative factor too); NaN, Inf and overflow
leave the fused pass; and the whole job gives the same with one worker and with two."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from rdt_tui.agent import statsfused, statsread
from rdt_tui.agent.statsjob import compute

np = pytest.importorskip("numpy")
h5py = pytest.importorskip("h5py")

EPS = 1e-8


def signs(rows: int, seed: int) -> Any:
    """Columns, one per case the bits must get right."""
    rng = np.random.default_rng(seed)
    x = np.empty((rows, 16))
    away = rng.uniform(1e-3, 2.0, rows) * rng.choice([-1.0, 1.0], rows)  # nothing near zero
    x[:, 0] = rng.normal(0, 0.5, rows)
    x[:, 1] = 1.0 + np.abs(rng.normal(0, 0.5, rows))  # all positive
    x[:, 2] = -1.0 - np.abs(rng.normal(0, 0.5, rows))  # all negative
    x[:, 3] = rng.choice([0.0, -0.0], rows)  # signed zeros only
    x[:, 4] = np.abs(away)
    x[rows // 2, 4] = 0.0  # positive, one +0
    x[:, 5] = -np.abs(away)
    x[rows // 3, 5] = -0.0  # negative, one -0
    x[:, 6] = away
    x[rows // 5 :: 97, 6] = -5e-9  # near zero below only
    x[:, 7] = away
    x[rows // 7 :: 89, 7] = 5e-9  # near zero above only
    x[:, 8] = away
    x[::13, 8] = EPS  # exactly EPS: counted as zero
    x[1::13, 8] = -EPS
    x[2::13, 8] = EPS * (1 + 1e-12)  # just above: not zero, though within the margin
    x[:, 9] = away
    x[::11, 9] = 5e-324  # subnormals
    x[1::11, 9] = -5e-324
    x[:, 10] = -np.abs(away)
    x[::3, 10] = -5e-9  # all negative, its largest near zero
    x[:, 11] = rng.uniform(1e-9, 9e-9, rows)  # all positive, all below EPS: nz 0
    x[:, 12] = 3.25  # constant
    x[:, 13] = 1000.0 + rng.normal(0, 1e-2, rows)  # |mean| >> std: centred
    x[:, 14] = away * 1e-7  # mixed, near zero on both sides somewhere
    x[:, 15] = -np.abs(away)
    x[rows // 4, 15] = 0.0  # negative, its maximum +0
    return x


def reference(x: Any) -> dict[str, Any]:
    mask = np.abs(x) > EPS
    z = np.where(mask, x, 0.0)
    mean = x.mean(0)
    return {
        "n": x.shape[0],
        "mean": mean,
        "m2": ((x - mean) ** 2).sum(0),
        "sum": x.sum(0),
        "sum_z": z.sum(0),
        "sumsq_z": (z**2).sum(0),
        "nz": mask.sum(0),
        "min": x.min(0),
        "max": x.max(0),
    }


def same(got: dict[str, Any], ref: dict[str, Any]) -> None:
    assert got["n"] == ref["n"]
    np.testing.assert_array_equal(got["nz"], ref["nz"])
    np.testing.assert_array_equal(got["min"], ref["min"])
    np.testing.assert_array_equal(got["max"], ref["max"])
    for key in ("mean", "sum", "sum_z", "sumsq_z"):
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-11, atol=1e-300, err_msg=key)
    np.testing.assert_allclose(got["m2"], ref["m2"], rtol=1e-7, atol=1e-20, err_msg="m2")


@pytest.mark.parametrize("rows", [7, 1_023, 1_024, 5_000, 40_003])
def test_every_sign_pattern_equals_numpy(rows: int) -> None:
    x = signs(rows, rows)
    got = statsfused.fused_part(x, None, np, statsfused.Work(np))
    assert got is not None
    same(got, reference(x))


@pytest.mark.parametrize("rows", [900, 40_003])
def test_a_scale_with_a_negative_factor_equals_numpy(rows: int) -> None:
    x = signs(rows, 3)
    divide = np.ones(x.shape[1])
    divide[[0, 2, 6, 8]] = [-2.0, 4.7908, -0.5, 3.0]
    got = statsfused.fused_part(x, divide, np, statsfused.Work(np))
    assert got is not None
    same(got, reference(x / divide))


def test_wide_rows_fold_fewer_and_equal_numpy() -> None:
    x = np.hstack([signs(5_003, 9 + i) for i in range(20)])  # 320 dims: 6 rows side by side
    got = statsfused.fused_part(x, None, np, statsfused.Work(np))
    assert got is not None
    same(got, reference(x))


def test_the_results_of_a_block_of_wide_rows_stay_small() -> None:
    work = statsfused.Work(np)
    x = np.random.default_rng(0).normal(size=(2_048, 1_024))  # 16 MiB of 1,024 dims
    assert statsfused.fused_part(x, None, np, work) is not None
    held = sum(a.nbytes for a in (work.f, work.i, work.u))
    assert held < 4 << 20, held  # 256 rows side by side held 96 MiB of results


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e300])
def test_nan_inf_and_overflow_leave_the_fused_pass(bad: float) -> None:
    x = signs(5_000, 4)
    x[4_321, 0] = bad
    x[4_322, 0] = bad
    assert statsfused.fused_part(x, None, np, statsfused.Work(np)) is None


def test_one_work_serves_blocks_of_every_size_in_turn() -> None:
    work = statsfused.Work(np)
    for rows in (40_003, 7, 5_000, 1_024, 40_003):
        x = signs(rows, rows + 1)
        got = statsfused.fused_part(x, None, np, work)
        assert got is not None
        same(got, reference(x))


@pytest.mark.parametrize("workers", [1, 2])
def test_the_job_equals_numpy_with_one_worker_and_with_two(
    tmp_path: Any, monkeypatch: Any, workers: int
) -> None:
    monkeypatch.setattr(statsread, "MAP_BYTES", 1 << 20)  # several mapped blocks a file
    parts = [signs(30_000, 5), signs(17_000, 6)]
    for i, x in enumerate(parts):
        with h5py.File(str(tmp_path / f"ep{i}.hdf5"), "w") as f:
            f.create_dataset("observations/qpos", data=x, chunks=(2_048, 16))
    got = compute(str(tmp_path), "*.hdf5", ["observations/qpos"], workers=workers)
    x = np.concatenate(parts)
    ref = reference(x)
    assert got["rows"] == x.shape[0]
    np.testing.assert_array_equal(got["min"], ref["min"])
    np.testing.assert_array_equal(got["max"], ref["max"])
    np.testing.assert_allclose(got["mean"], ref["mean"], rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(got["std_plain"], x.std(0), rtol=1e-9, atol=1e-300)
    nz = np.maximum(ref["nz"], 1)
    rdt = ref["sumsq_z"] / nz - (ref["sum_z"] / x.shape[0]) ** 2 * (x.shape[0] / nz)
    want = np.sqrt(np.maximum(rdt, 0))
    rtol = np.full(x.shape[1], 1e-9)
    rtol[13] = 1e-3  # RDT's own formula cancels there (mean 1000, std 0.01)
    for got_i, want_i, r in zip(got["std_rdt"], want, rtol, strict=True):
        assert got_i == pytest.approx(want_i, rel=r, abs=1e-300)


def test_one_worker_and_two_give_the_same_bits(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(statsread, "MAP_BYTES", 1 << 20)
    for i, x in enumerate([signs(30_000, 7), signs(17_000, 8)]):
        with h5py.File(str(tmp_path / f"ep{i}.hdf5"), "w") as f:
            f.create_dataset("observations/qpos", data=x, chunks=(2_048, 16))
    one = compute(str(tmp_path), "*.hdf5", ["observations/qpos"], workers=1)
    two = compute(str(tmp_path), "*.hdf5", ["observations/qpos"], workers=2)
    assert json.dumps(one) == json.dumps(two)


class Slots:
    """Results of ``count`` sub-blocks, one slot each, as ``_reduced`` keeps them; ``one``
    writes ``j + base`` (and may be told to stall in the helper thread)."""

    def __init__(self, count: int) -> None:
        self.arrays = tuple(np.zeros((2, count, 3), t) for t in (np.float64, np.int64, np.uint64))
        self.spare = tuple(np.zeros((2, 3), t) for t in (np.float64, np.int64, np.uint64))
        self.base, self.main = 0, threading.get_ident()
        self.taken, self.release = threading.Event(), threading.Event()
        self.stall, self.calls = False, 0

    def slot(self, j: int) -> Any:
        return tuple(a[:, j] for a in self.arrays)

    def one(self, j: int, out: Any) -> None:
        base = self.base
        if threading.get_ident() != self.main:
            self.taken.set()
            if self.stall:
                self.release.wait(10)  # a helper whose core is busy elsewhere
        else:
            self.calls += 1
            if self.stall:
                self.taken.wait(10)  # until the helper holds one
        for a in out:
            a[...] = j + base

    def values(self) -> list[int]:
        got = {tuple(a[:, j].ravel().tolist()) for a in self.arrays for j in range(a.shape[1])}
        return sorted({int(v) for row in got for v in row})


def test_the_helper_fills_each_slot_once() -> None:
    helper = statsfused.Helper()
    try:
        for count in (1, 2, 500):
            slots = Slots(count)
            helper.run(count, slots.one, slots.slot, slots.spare)
            for j in range(count):
                for a in slots.slot(j):
                    assert (a == j).all()
    finally:
        helper.close()


def test_a_stalled_helper_is_not_waited_for_and_its_late_result_is_dropped() -> None:
    helper = statsfused.Helper()
    slots = Slots(40)
    slots.stall = True
    try:
        helper.run(40, slots.one, slots.slot, slots.spare)  # returns, the helper still stalled
        assert not slots.release.is_set()
        assert slots.values() == list(range(40)) and slots.calls == 40  # this thread did all
        slots.base, slots.stall = 1000, False
        helper.run(40, slots.one, slots.slot, slots.spare)  # the next block, same slots
    finally:
        slots.release.set()
        helper.close()  # the stalled result arrives now, and must land nowhere
    assert slots.values() == list(range(1000, 1040))


def test_what_the_helper_raised_is_raised() -> None:
    helper = statsfused.Helper()
    slots = Slots(200)

    def fails_in_the_helper(j: int, out: Any) -> None:
        if threading.get_ident() != slots.main:
            slots.taken.set()
            raise ValueError(f"sub-block {j}")
        slots.taken.wait(10)  # until the helper has taken one
        slots.one(j, out)

    try:
        with pytest.raises(ValueError, match="sub-block"):
            helper.run(200, fails_in_the_helper, slots.slot, slots.spare)
        assert slots.values() == list(range(200))  # its sub-block redone here
        slots = Slots(50)
        helper.run(50, slots.one, slots.slot, slots.spare)  # and the next block as before
        assert slots.values() == list(range(50))
    finally:
        helper.close()
