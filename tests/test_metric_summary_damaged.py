"""A summary.bin that does not match the points (written without fsync: a power cut can leave
it torn, or with another file's bytes) must not break a run's history for good. The extremes
it claims are looked for in the points; one that is not there used to raise ValueError out of
``history`` (answered as "bad arguments for history", at every attach of the dashboard, after
every restart). The summaries are then built again from the points."""

from __future__ import annotations

import math
import os
from array import array
from typing import Any

from rdt_tui.agent import metricsummary
from rdt_tui.agent.metricstore import SUMMARY, MetricStore
from rdt_tui.core.parsed import ParsedPoints


def test_a_summary_file_that_does_not_match_the_points_is_built_again(tmp_path: Any) -> None:
    n = metricsummary.LONG + 10 * metricsummary.BLOCK
    block = ParsedPoints()
    block.block(("loss",), list(range(n)), [[math.cos(i / 999.0) for i in range(n)]])
    store = MetricStore(str(tmp_path))
    store.append(block, 1.0)
    store.save_cursor({})
    before = store.history(None, 300)
    store.close()
    path = os.path.join(str(tmp_path), SUMMARY)
    with open(path, "rb") as fh:
        data = bytearray(fh.read())
    head = 8  # one series: its index and block count, then mins, maxs, sums
    blocks = (len(data) - head) // 24
    assert blocks > 0
    data[head:] = array("d", [7.0] * (3 * blocks)).tobytes()  # extremes no point has
    with open(path, "wb") as fh:
        fh.write(bytes(data))
    again = MetricStore(str(tmp_path))
    assert again.load() is not None
    assert again.history(None, 300) == before
