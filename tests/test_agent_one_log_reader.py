"""One rule for where a line of output.log ends, for the watcher's follower (metric parsing,
alerts) and for the chunks clients read (a subscription's log events, ``logs``, the console's
log pages): ``core.lines.whole_lines_end``. Before, ``read_chunk`` kept a rule of its own: it cut
a ``\\r\\n`` in two (the console drew an empty line that is not in the log), held back an
unterminated line the follower had long cut (a client read nothing, forever), and cut pieces in
the middle of a UTF-8 character (U+FFFD on both sides)."""

from __future__ import annotations

import os

import pytest

from rdt_tui.agent.follower import MAX_LINE, LogFollower, read_chunk
from rdt_tui.core.lines import split_complete

LOG = "a\r\nbb\r\nccc\rdd\n∑é loss=0.5\r\nstep=2\r\n".encode()


def chunks(path: str, limit: int, final: bool) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    offset = 0
    for _ in range(10 * len(LOG) + 10):
        text, start, end = read_chunk(path, offset, limit, final)
        if end == start:
            return out
        out.append((text, start, end))
        offset = end
    raise AssertionError("read_chunk made no progress")


@pytest.mark.parametrize("limit", range(16, len(LOG) + 2))  # every line fits in a read
def test_client_chunks_end_where_the_followers_lines_end(workdir: str, limit: int) -> None:
    path = os.path.join(workdir, "output.log")
    with open(path, "wb") as fh:
        fh.write(LOG)
    follower = LogFollower(path)
    lines, _ = follower.read()
    got = chunks(path, limit, False)
    per_chunk = [split_complete(text.encode()) for text, _, _ in got]
    assert [ln for c in per_chunk for ln in c] == lines
    assert got[-1][2] == follower.offset == len(LOG)
    # Each chunk ends at a line end of the follower's: one resumed there reads the rest.
    for i, (_, _, end) in enumerate(got):
        resumed = LogFollower(path, follower.inode, end)
        assert resumed.read()[0] == [ln for c in per_chunk[i + 1 :] for ln in c]


def test_a_crlf_is_never_cut_in_two(workdir: str) -> None:
    path = os.path.join(workdir, "output.log")
    with open(path, "wb") as fh:
        fh.write(b"a\r\nb\r\n")
    text, start, end = read_chunk(path, 0, 2, False)
    assert (text, start, end) == ("a\r\n", 0, 3)  # one byte over the limit, not "a\r"
    assert read_chunk(path, 3, 2, False) == ("b\r\n", 3, 6)


def test_an_unterminated_line_the_follower_cut_reaches_clients(workdir: str) -> None:
    path = os.path.join(workdir, "output.log")
    long = b"x" * (MAX_LINE + 10)
    with open(path, "wb") as fh:
        fh.write(b"step=1\n" + long)
    follower = LogFollower(path)
    lines, _ = follower.read()
    assert len(lines) == 2  # the follower has cut it: the job is not waited on
    assert read_chunk(path, 0, 1 << 20, False) == ("step=1\n", 0, 7)
    text, start, end = read_chunk(path, 7, 1 << 20, False)
    assert (text, start, end) == (long.decode(), 7, 7 + len(long))


def test_a_line_in_pieces_keeps_its_characters_whole(workdir: str) -> None:
    path = os.path.join(workdir, "output.log")
    line = "∑é🙂x" * 50
    with open(path, "wb") as fh:
        fh.write(line.encode())  # no terminator: a line longer than each read
    for limit in (5, 7, 11):
        pieces = [text for text, _, _ in chunks(path, limit, False)]
        assert "\ufffd" not in "".join(pieces), limit
        assert "".join(pieces) == line[: len("".join(pieces))]
        assert all(len(p.encode()) <= limit for p in pieces)
    assert "".join(t for t, _, _ in chunks(path, 7, True)) == line


def test_the_last_partial_line_comes_once_the_run_ended(workdir: str) -> None:
    path = os.path.join(workdir, "output.log")
    with open(path, "wb") as fh:
        fh.write(b"one\ntail")
    assert read_chunk(path, 0, 100, False) == ("one\n", 0, 4)
    assert read_chunk(path, 4, 100, False) == ("", 4, 4)
    assert read_chunk(path, 4, 100, True) == ("tail", 4, 8)
