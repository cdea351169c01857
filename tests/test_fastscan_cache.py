"""The fast path's compiled patterns stay bounded, whatever names a job's lines carry."""

from rdt_tui.core import fastscan
from rdt_tui.core.metrics import MetricParser


def test_gesturelsm_name_lists_that_change_every_chunk_keep_the_cache_bounded() -> None:
    parser = MetricParser("gesturelsm")
    for chunk in range(100):
        lines = [f"[100][{i}/500]  name{chunk}: 0.5  other: 1.5" for i in range(fastscan.MIN_LINES)]
        points = parser.parse_lines(lines)
        assert points[0] == (f"name{chunk}", 0.5, 100 * 500)
    assert len(fastscan._PATTERNS) <= 33
