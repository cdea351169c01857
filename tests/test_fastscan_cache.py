"""The fast paths' compiled patterns stay bounded, whatever names a job's lines carry: over
``str`` lines (core/shapes.py) and over a read's bytes (core/barscan.py, jsonscan.py,
shapescan.py), for names that change every chunk."""

import json

from rdt_tui.core import barscan, fastscan, jsonscan, shapes, shapescan
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser


def test_gesturelsm_name_lists_that_change_every_chunk_keep_the_cache_bounded() -> None:
    parser = MetricParser("gesturelsm")
    for chunk in range(100):
        lines = [f"[100][{i}/500]  name{chunk}: 0.5  other: 1.5" for i in range(fastscan.MIN_LINES)]
        points = parser.parse_lines(lines)
        assert points[0] == (f"name{chunk}", 0.5, 100 * 500)
    assert len(shapes._PATTERNS) <= 33


def test_names_that_change_every_read_keep_the_bytes_paths_caches_bounded() -> None:
    gen, bars, dp = MetricParser("gesturelsm"), MetricParser("rdt"), MetricParser("dp")
    for chunk in range(100):
        text = "".join(
            f"[100][{i}/500]  name{chunk}: 0.5  other: 1.5\n" for i in range(fastscan.MIN_LINES)
        )
        got = gen.parse_points(LineSplitter().feed_text(text.encode())).to_list()
        assert got[0] == (f"name{chunk}", 0.5, 100 * 500)
        text = "".join(f"Steps: {i}/900 [00:01, k{chunk}=0.5]\r" for i in range(1, 100))
        got = bars.parse_points(LineSplitter().feed_text(text.encode())).to_list()
        assert got[0] == (f"k{chunk}", 0.5, 1)
        text = "".join(json.dumps({f"k{chunk}": 0.5, "step": i}) + "\n" for i in range(99))
        got = dp.parse_points(LineSplitter().feed_text(text.encode())).to_list()
        assert got[0] == (f"k{chunk}", 0.5, 0)
    assert len(shapescan._BYTES) <= 33
    assert len(barscan._PATTERNS) <= 33
    assert len(jsonscan._PATTERNS) <= 33
