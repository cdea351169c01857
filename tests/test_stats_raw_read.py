"""The statistics job reads plain HDF5 rows itself (a read-only map of each block, or preadv
for another type): the results must be the ones h5py's reads give, bit for bit, on every
layout; what it cannot read plainly goes through h5py; a wrong offset is caught; a file that
shrinks is an error, not a crash; one block's map at a time."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from rdt_tui.agent import statsread
from rdt_tui.agent.statsjob import StatsError, compute

np = pytest.importorskip("numpy")
h5py = pytest.importorskip("h5py")

KEY = "observations/qpos"


def data(rows: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.5, (rows, 9))
    x[:, 1] = 1000.0 + rng.normal(0, 1e-2, rows)
    x[:, 3] = 0.0
    x[::7, 5] = 5e-9
    return x


def both_ways(tmp_path: Any, monkeypatch: Any) -> tuple[dict[str, Any], dict[str, Any], int]:
    """compute() through h5py only, then as shipped; and how many blocks it read raw."""
    with monkeypatch.context() as m:
        m.setattr(statsread, "_raw", lambda *a: None)
        via_h5py = compute(str(tmp_path), "*.hdf5", [KEY])
    raw_blocks = []
    real = statsread._raw_rows

    def counted(*a: Any) -> Any:
        raw_blocks.append(1)
        return real(*a)

    monkeypatch.setattr(statsread, "_raw_rows", counted)
    shipped = compute(str(tmp_path), "*.hdf5", [KEY])
    return via_h5py, shipped, len(raw_blocks)


@pytest.mark.parametrize(
    "dtype,kw",
    [
        ("<f8", {}),
        ("<f8", {"chunks": (1000, 9)}),
        ("<f8", {"chunks": (65536, 9)}),
        ("<f8", {"chunks": (24_000, 9)}),
        ("<f4", {"chunks": (8192, 9)}),
        ("<i2", {"chunks": (5000, 9)}),
    ],
    ids=["contiguous", "small-chunks", "big-chunks", "uneven-chunks", "float32", "int16"],
)
def test_raw_reads_give_h5pys_statistics_bit_for_bit(
    tmp_path: Any, monkeypatch: Any, dtype: str, kw: dict[str, Any]
) -> None:
    parts = [data(70_001, 1), data(130_000, 2), data(90_000, 3)]
    for i, x in enumerate(parts):
        with h5py.File(str(tmp_path / f"ep{i}.hdf5"), "w") as f:
            f.create_dataset(KEY, data=(x * 100 if dtype == "<i2" else x).astype(dtype), **kw)
    via_h5py, shipped, raw = both_ways(tmp_path, monkeypatch)
    assert json.dumps(shipped) == json.dumps(via_h5py)
    assert raw > 0  # the raw path was taken, so the comparison means something
    whole = np.concatenate([(x * 100 if dtype == "<i2" else x).astype(dtype) for x in parts])
    np.testing.assert_array_equal(shipped["min"], whole.min(0).astype(np.float64))
    np.testing.assert_array_equal(shipped["max"], whole.max(0).astype(np.float64))
    np.testing.assert_allclose(
        shipped["mean"], whole.astype(np.float64).mean(0), rtol=1e-12, atol=1e-12
    )


def test_layouts_it_cannot_read_plainly_go_through_h5py(tmp_path: Any, monkeypatch: Any) -> None:
    x = data(60_000, 4)
    with h5py.File(str(tmp_path / "gzip.hdf5"), "w") as f:
        f.create_dataset(KEY, data=x, chunks=(4096, 9), compression="gzip")
    with h5py.File(str(tmp_path / "big_endian.hdf5"), "w") as f:
        f.create_dataset(KEY, data=x.astype(">f8"), chunks=(4096, 9))
    with h5py.File(str(tmp_path / "userblock.hdf5"), "w", userblock_size=512) as f:
        f.create_dataset(KEY, data=x)
    with h5py.File(str(tmp_path / "row_split.hdf5"), "w") as f:
        f.create_dataset(KEY, data=x, chunks=(4096, 3))  # a chunk holds part of each row
    via_h5py, shipped, raw = both_ways(tmp_path, monkeypatch)
    assert raw == 0
    assert json.dumps(shipped) == json.dumps(via_h5py)
    assert shipped["rows"] == 4 * 60_000


def test_chunks_never_written_read_as_the_fill_value(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(statsread, "MAP_BYTES", 65_536 * 9 * 8)  # blocks of 60,000 rows
    x = data(60_000, 5)
    with h5py.File(str(tmp_path / "sparse.hdf5"), "w") as f:
        d = f.create_dataset(
            KEY, shape=(200_000, 9), dtype="<f8", chunks=(10_000, 9), fillvalue=1.5
        )
        d[:60_000] = x  # the first read (60,000 rows) is whole chunks: raw
        d[120_000:130_000] = x[:10_000]  # beside chunks never written: through h5py
    via_h5py, shipped, raw = both_ways(tmp_path, monkeypatch)
    assert json.dumps(shipped) == json.dumps(via_h5py)
    assert raw > 0
    assert shipped["max"][3] == 1.5 and shipped["min"][3] == 0.0


def test_a_wrong_offset_is_caught_by_the_row_check(tmp_path: Any, monkeypatch: Any) -> None:
    with h5py.File(str(tmp_path / "a.hdf5"), "w") as f:
        f.create_dataset(KEY, data=data(40_000, 6), chunks=(8192, 9))
    real = statsread._Raw.extents

    def shifted(self: Any, r0: int, r1: int) -> Any:
        got = real(self, r0, r1)
        return [(at + 72, start, n) for at, start, n in got] if got else got

    monkeypatch.setattr(statsread._Raw, "extents", shifted)
    with pytest.raises(StatsError, match="read raw is not what h5py reads"):
        compute(str(tmp_path), "*.hdf5", [KEY])


def test_one_blocks_map_at_a_time(tmp_path: Any) -> None:
    path = tmp_path / "a.hdf5"
    with h5py.File(str(path), "w") as f:
        f.create_dataset(KEY, data=data(200_000, 7), chunks=(16_384, 9))
    seen = []
    for _, _, x in statsread.blocks([str(path)], [KEY], 16_384, np, {"episodes": 0}):
        assert x.base is not None  # a view of a map, not a copy
        with open("/proc/self/maps") as maps:
            seen.append(sum(str(path) in line for line in maps))
    assert len(seen) == 13 and max(seen) <= 2, seen


def test_a_file_that_shrinks_while_read_is_an_error_not_a_crash(tmp_path: Any) -> None:
    path = tmp_path / "a.hdf5"
    with h5py.File(str(path), "w") as f:
        f.create_dataset(KEY, data=data(300_000, 8), chunks=(16_384, 9))
    probe = textwrap.dedent(
        f"""
        import os, numpy as np
        from rdt_tui.agent import statsread
        path = {str(path)!r}
        it = statsread.blocks([path], [{KEY!r}], 16384, np, {{"episodes": 0}})
        next(it)
        os.truncate(path, os.path.getsize(path) // 2)
        try:
            for _ in it:
                pass
        except statsread.StatsError as exc:
            print("refused:", exc)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr  # a SIGBUS would end it with -7
    assert "refused:" in done.stdout and "shrank" in done.stdout


def test_a_job_killed_by_a_signal_is_reported_as_such(tmp_path: Any) -> None:
    """A map of a file cut short ends the job with SIGBUS and nothing on stderr: the agent says
    it was killed by a signal and what to do, not an empty "failed: "."""
    import signal
    import stat

    from rdt_tui.agent.preflight_ops import run_stats_job
    from rdt_tui.protocol.errors import AgentError

    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nkill -BUS $$\n")
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(AgentError) as caught:
        run_stats_job(str(python), {"directory": str(tmp_path), "keys": [KEY]}, timeout=30)
    assert f"killed by signal {int(signal.SIGBUS)}" in caught.value.message
    assert "run it again" in caught.value.hint
