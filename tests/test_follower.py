"""LogFollower on real files: growth, partial lines, rotation, truncation, garbage."""

from __future__ import annotations

import os

from rdt_tui.agent.follower import LogFollower


def append(path: str, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def test_follows_growth_and_holds_back_partial_lines(workdir: str) -> None:
    path = os.path.join(workdir, "train.log")
    f = LogFollower(path)
    assert f.read() == ([], False)  # not there yet: no error
    append(path, b"one\ntw")
    assert f.read()[0] == ["one"]
    assert f.offset == 4
    append(path, b"o\rthree\r")
    assert f.read()[0] == ["two", "three"]
    append(path, b"tail")
    assert f.read()[0] == []
    assert f.finish() == ["tail"]


def test_resumes_from_a_saved_position(workdir: str) -> None:
    path = os.path.join(workdir, "train.log")
    append(path, b"a\nb\nc")
    f = LogFollower(path)
    assert f.read()[0] == ["a", "b"]
    inode, offset = f.position()
    f.close()
    append(path, b"\nd\n")
    g = LogFollower(path, inode, offset)
    assert g.read()[0] == ["c", "d"]


def test_rotation_drains_the_old_file_then_reads_the_new_one(workdir: str) -> None:
    path = os.path.join(workdir, "train.log")
    append(path, b"old1\n")
    f = LogFollower(path)
    assert f.read()[0] == ["old1"]
    append(path, b"old2\nold-partial")
    os.rename(path, path + ".1")
    append(path, b"new1\n")
    lines, _ = f.read()
    assert lines == ["old2", "old-partial", "new1"]
    assert f.rotations == 1


def test_truncation_restarts_at_zero(workdir: str) -> None:
    path = os.path.join(workdir, "train.log")
    append(path, b"x" * 100 + b"\n")
    f = LogFollower(path)
    assert len(f.read()[0]) == 1
    with open(path, "wb") as fh:
        fh.write(b"fresh\n")
    assert f.read()[0] == ["fresh"]
    assert f.truncations == 1


def test_rotated_while_nobody_followed_starts_the_new_file_fresh(workdir: str) -> None:
    path = os.path.join(workdir, "train.log")
    append(path, b"a\n")
    f = LogFollower(path)
    f.read()
    inode, offset = f.position()
    f.close()
    os.unlink(path)
    append(path, b"bb\n" * 3)
    g = LogFollower(path, inode + 1 if inode else 1, offset)
    assert g.read()[0] == ["bb", "bb", "bb"]


def test_binary_garbage_is_tolerated(workdir: str) -> None:
    path = os.path.join(workdir, "train.log")
    append(path, os.urandom(200000) + b"\nloss=0.5\n")
    f = LogFollower(path)
    lines: list[str] = []
    more = True
    while more:
        got, more = f.read(4096)
        lines.extend(got)
    assert lines[-1] == "loss=0.5"
