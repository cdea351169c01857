"""Two minutes of a job doing the nasty things at once (hundreds of metric names, an absurd
step, a NaN step, a 3 MB unterminated line, a copy-truncated log, processes escaping the
marker) while a console and a CLI follow it: the daemon keeps answering, its descriptors and
memory stay bounded, the points equal a one-shot parse of the logs, and stop leaves no process
behind."""

from __future__ import annotations

import math
import os

import pytest

from .soak import soak

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("RDT_SOAK_SECONDS", "120"))


def test_soak_nasty_job_followed_by_a_console_and_a_cli(state_dir: str, workdir: str) -> None:
    r = soak(state_dir, workdir, SECONDS, names=500)
    assert r.samples, "no sample taken"
    # The daemon answered every request of the soak.
    assert all(math.isfinite(s.answer_s) for s in r.samples), [s.answer_s for s in r.samples]
    # 500 metric names: descriptors stay bounded (three files per name would be 1500).
    assert max(s.fds for s in r.samples) <= 64, [s.fds for s in r.samples]
    # Memory bounded: the 3 MB line and 500 series do not pile up.
    assert max(s.rss_kib for s in r.samples) < 200 * 1024, [s.rss_kib for s in r.samples]
    # Stop reached the processes that escaped the marker.
    assert len(r.escaped) == 2
    assert r.left_after_stop == [], r.stop_status
    # `logs --follow` ended when the run did, having printed the log to its last step (the
    # 3 MB line arrives cut at the agent's line cap, with its marker).
    assert r.follow_rc == 0 and r.follow_bytes > 100_000
    assert r.follow_last_step == r.log_last_step > 100
    # The console was still up, not a traceback.
    assert r.console_alive, r.console_screen
    # Every point of output.log as a one-shot parse finds it, and nothing else from it.
    from_output = {k: v for k, v in r.points.items() if k[0] != "val_loss"}
    assert len(r.reference) > 1000
    assert set(from_output) == set(r.reference), sorted(set(from_output) ^ set(r.reference))[:10]
    for key, value in r.reference.items():
        got = from_output[key]
        assert got == value or (math.isnan(got) and math.isnan(value)), (key, got, value)
    # The copy-truncated log: its points are the twin's, and the follower went on after the
    # truncation up to the job's last line (lines written between the last read and the
    # truncation are lost, as with logrotate's copytruncate).
    side = {k: v for k, v in r.points.items() if k[0] == "val_loss"}
    assert side and all(r.reference_side.get(k) == v for k, v in side.items())
    last = max(step for (_, step) in r.reference_side if step is not None)
    assert ("val_loss", last) in side
    lost = set(r.reference_side) - set(side)
    assert len(lost) < len(r.reference_side) / 10, len(lost)
