"""Several shims appending to one log (the nodes of a Slurm job share its output file): each
writes whole lines only, so the two nodes' lines never cut into each other."""

from __future__ import annotations

import os

from rdt_tui.agent.shim import PARTIAL_MAX, LogSink, Slot


def test_two_sinks_on_one_log_interleave_whole_lines_only(tmp_path: os.PathLike[str]) -> None:
    log = os.path.join(str(tmp_path), "output.log")
    a = LogSink(log, Slot(os.path.join(str(tmp_path), "a.json")))
    b = LogSink(log, Slot(os.path.join(str(tmp_path), "b.json")))
    # Pipe reads end anywhere: mid-line, mid-bar (tqdm repaints end in \r).
    a.write(b"step=1 loss=0.5\nstep=2 lo")
    b.write(b"Steps: 3%| 1/30 [loss=0.9")
    a.write(b"ss=0.25\nstep=3 loss=")
    b.write(b"8]\rSteps: 7%| 2/30 [loss=0.7]\r")
    a.write(b"0.125\n")
    b.write(b"last words")
    b.flush()
    a.flush()
    with open(log, "rb") as fh:
        text = fh.read()
    pieces = text.replace(b"\r", b"\n").split(b"\n")
    assert b"step=2 loss=0.25" in pieces and b"step=3 loss=0.125" in pieces
    assert b"Steps: 3%| 1/30 [loss=0.98]" in pieces and b"last words" in pieces


def test_an_endless_line_is_not_held_forever(tmp_path: os.PathLike[str]) -> None:
    log = os.path.join(str(tmp_path), "output.log")
    sink = LogSink(log, Slot(os.path.join(str(tmp_path), "s.json")))
    sink.write(b"x" * (PARTIAL_MAX + 1))
    assert os.path.getsize(log) == PARTIAL_MAX + 1
