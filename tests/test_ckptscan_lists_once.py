"""A checkpoint scan lists each directory once for all its patterns (six by default), and
finds what it found when each pattern listed the directory itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rdt_tui.agent import ckptscan, files


def test_the_default_patterns_list_the_run_directory_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "checkpoint-100").mkdir()
    (tmp_path / "checkpoint-100" / "model.safetensors").write_bytes(b"x" * 10)
    (tmp_path / "checkpoint_7").mkdir()
    (tmp_path / "best_loss").mkdir()
    (tmp_path / "epoch=3.ckpt").write_bytes(b"x")
    (tmp_path / "net_200.pth").write_bytes(b"xy")
    (tmp_path / "w.safetensors").write_bytes(b"z")
    (tmp_path / ".hidden.pth").write_bytes(b"z")
    (tmp_path / "notes.txt").write_text("no")
    listed: list[str] = []
    real = files._entries

    def entries(path: str) -> list[os.DirEntry[str]]:
        listed.append(path)
        return real(path)

    monkeypatch.setattr(files, "_entries", entries)
    found = ckptscan.scan(str(tmp_path))
    assert listed == [str(tmp_path)]
    names = sorted(c["name"] for c in found)
    assert names == [
        "best_loss",
        "checkpoint-100",
        "checkpoint_7",
        "epoch=3.ckpt",
        "net_200.pth",
        "w.safetensors",
    ]
    # Each pattern alone (its own listing) finds the same paths in the same order.
    one_by_one: list[str] = []
    for pattern in ckptscan.DEFAULT_GLOBS:
        one_by_one += [p for p in files.safe_glob(str(tmp_path), pattern) if p not in one_by_one]
    shared: dict[str, list[os.DirEntry[str]]] = {}
    together: list[str] = []
    for pattern in ckptscan.DEFAULT_GLOBS:
        got = files.safe_glob(str(tmp_path), pattern, listings=shared)
        together += [p for p in got if p not in together]
    assert together == one_by_one


@pytest.mark.parametrize("pattern", ["*.pth", "checkpoint-*", "[bc]*", "?est_*", "*[!x]"])
def test_a_name_matches_as_fnmatchcase_says(tmp_path: Path, pattern: str) -> None:
    import fnmatch

    names = ["a.pth", "A.PTH", "checkpoint-1", "best_x", "cx", "bz", "x"]
    for n in names:
        (tmp_path / n).write_text("")
    got = sorted(os.path.basename(p) for p in files.safe_glob(str(tmp_path), pattern))
    assert got == sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))


def test_the_one_name_patterns_matched_together_find_what_each_finds_alone(
    tmp_path: Path,
) -> None:
    """``files.match_names`` (one regex of every pattern, one pass over the listing) against
    ``safe_glob`` of each pattern alone, on names made to sit near the patterns' edges."""
    import random

    rng = random.Random(7)
    stems = ["checkpoint-", "checkpoint_", "best_", "net_", "epoch=", ".", "", "x", "[", "]"]
    tails = ["1", "200", ".pth", ".ckpt", ".safetensors", ".pt", "a", "-", "*", "?", "\\"]
    names = {rng.choice(stems) + rng.choice(tails) + rng.choice(tails) for _ in range(400)}
    for name in names - {".", ".."}:
        (tmp_path / name).write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.pt").write_text("")  # only `**` reaches it: a recursive walk
    pools = [*ckptscan.DEFAULT_GLOBS, "*.pt", "[bc]*", "?est_*", "*[!x]", "net_[0-9]*", "*\\*"]
    pools.append("**")
    for _ in range(60):
        patterns = rng.sample(pools, rng.randint(1, 5))
        alone: set[str] = set()
        for pattern in patterns:
            alone.update(files.safe_glob(str(tmp_path), pattern))
        together = files.match_names(
            str(tmp_path), [p for p in patterns if files.one_name_pattern(p)]
        )
        alone_names: set[str] = set()
        for pattern in patterns:
            if files.one_name_pattern(pattern):
                alone_names.update(files.safe_glob(str(tmp_path), pattern))
        assert len(together) == len(set(together)), patterns
        assert set(together) == alone_names, patterns
        found = {c["path"] for c in ckptscan.scan(str(tmp_path), patterns)}
        assert found == {p for p in alone if not os.path.basename(p).startswith(".")}, patterns
    assert not files.one_name_pattern("**") and not files.one_name_pattern(".*")
    assert not files.one_name_pattern("dir/*.pth") and not files.one_name_pattern("plain")
    # A pattern of its own is matched as fnmatchcase says, whatever it holds (a NUL: nothing).
    assert files.safe_glob(str(tmp_path), "zz\0*") == []
