"""A log copy-truncated (logrotate's copytruncate) while its writer was in the middle of a line:
the part the follower held back is the start of a line torn in two, not a line. Flushed as one,
`val_loss=0.6` of `val_loss=0.666667` became a point with a wrong value (the soak test's
copy-truncated side log caught it under load)."""

from __future__ import annotations

import os

from rdt_tui.agent.follower import LogFollower
from rdt_tui.core.metrics import MetricParser


def test_a_partial_line_held_at_a_copytruncate_is_dropped(workdir: str) -> None:
    path = os.path.join(workdir, "side.log")
    with open(path, "wb") as fh:
        fh.write(b"val_loss=2.0\nval_loss=0.6")  # the writer is in the middle of a line
    f = LogFollower(path)
    assert f.read()[0] == ["val_loss=2.0"]
    with open(path, "r+b") as fh:  # copytruncate; the writer goes on where it was
        fh.truncate(0)
    with open(path, "ab") as fh:
        fh.write(b"66667\nval_loss=0.5\n")
    lines = f.read()[0]
    assert "val_loss=0.6" not in lines
    assert lines == ["66667", "val_loss=0.5"]
    assert MetricParser().parse_lines(lines) == [("val_loss", 0.5, None)]
    assert f.truncations == 1
