"""A mapped block's pages leave the statistics job's memory once the next block is asked for,
even while another view of the block is still held (the job's helper thread may hold one for
a while): they stay in the page cache, and a late read maps them again, correctly."""

from __future__ import annotations

from typing import Any

import pytest

from rdt_tui.agent import statsread

np = pytest.importorskip("numpy")
h5py = pytest.importorskip("h5py")


def mapped_kib(path: str) -> int:
    """Resident KiB of this process's maps of ``path`` (from /proc/self/smaps)."""
    total, ours = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5:  # a mapping's first line
                ours = line.rstrip().endswith(path)
            elif ours and head and head[0] == "Rss:":
                total += int(head[1])
    return total


def test_a_held_blocks_pages_are_released(tmp_path: Any) -> None:
    path = str(tmp_path / "a.hdf5")
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f.create_dataset("q", data=rng.normal(size=(3 * 65_536, 9)), chunks=(65_536, 9))
    it = statsread.blocks([path], ["q"], 65_536, np, {"episodes": 0})
    _, _, first = next(it)
    assert not first.flags.writeable  # a map, not a buffer
    total = float(first.sum())  # every page of the block read: 4.5 MiB resident
    assert mapped_kib(path) > 4_000
    held = first  # a view someone still holds
    second = next(it)[2]
    assert mapped_kib(path) < 1_000  # the held block's pages gone, the new one's not yet read
    assert float(held.sum()) == total  # and the held view still reads the same rows
    assert second.shape == (65_536, 9)
    assert len(list(it)) == 1  # the third block, and the file closed
