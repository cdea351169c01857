"""Defects the review of the bytes parse (core/barscan.py, agent/metricblock.py) found, each the
smallest case, held to the old line path (the splitter's lines, ``MetricParser(fast=False)``,
the store fed the point list). tests/test_barscan_fuzz.py found them."""

from __future__ import annotations

import json
from typing import Any

from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser

BARS = b"".join(b"Steps: %d/90 [00:01, loss=0.%d]\r" % (i, i) for i in range(1, 80))


def parse_both(data: bytes, fmt: str, max_line: int | None) -> tuple[Any, Any]:
    """(the bytes path's points and state, the line path's), as the agent's watcher reads."""
    old = MetricParser(fmt, fast=False)
    want = old.parse_lines(LineSplitter(0, max_line).feed(data))
    new = MetricParser(fmt)
    got = new.parse_points(LineSplitter(0, max_line).feed_text(data)).to_list()
    return (got, new.last_step, new._last_bar), (want, old.last_step, old._last_bar)


def test_a_bar_without_a_total_is_no_bar() -> None:
    # `5/ [` is no tqdm bar to the line path (n/total needs a digit after the slash); the
    # bar pattern took it as one, its loss at step 5 (auto: at the step before, 79).
    data = BARS + b"Steps: 5/ [00:01, loss=0.5]\n" + BARS
    for fmt in ("auto", "rdt"):
        got, want = parse_both(data, fmt, None)
        assert got == want
    got, _ = parse_both(BARS + b"Steps: 5/ [00:01, loss=0.5]\n", "auto", None)
    assert got[0][-1] == ("loss", 0.5, 79) and got[1] == 79


def test_no_plain_bar_where_max_line_cannot_hold_one() -> None:
    # Keys longer than max_line leaves room for: the pattern's bound went to 0, not below,
    # and took a 46-byte line as a bar where the splitter cuts it at 12 (no bar left).
    key = b"a_very_long_key_name_x"
    data = b"1/1 [, " + key + b"=1]\n"
    data += b"".join(b"%d/1 [, %s=]\r" % (10**14 + i, key) for i in range(100))
    got, want = parse_both(data, "auto", 12)
    assert got == want
    assert want[1] == 1  # the cut lines are no bars: the last step is the first line's


def store_of(points: Any, directory: str) -> tuple[list[str], str]:
    store = MetricStore(directory)
    store.append(points, 1.0)
    page, _ = store.since(0, 10**9)
    store.close()
    return list(store.names), json.dumps(page["series"])


def test_a_key_twice_in_a_bar_is_stored_as_its_points_are(tmp_path: Any) -> None:
    # `loss=0.1, loss=0.2`: two points of one name and step, the second replaces the first.
    # The block append made the name twice and put both columns in one series.
    data = b"".join(b"Steps: %d/100 [00:01, loss=0.%d, loss=0.%d]\r" % (i, i, i) for i in range(99))
    lines = LineSplitter().feed(data)
    want = store_of(MetricParser(fast=False).parse_lines(lines), str(tmp_path / "points"))
    text = LineSplitter().feed_text(data)
    got = store_of(MetricParser().parse_points(text), str(tmp_path / "run"))
    assert got == want
    assert got[0] == ["loss"]
    str_path = store_of(MetricParser().parse_points(lines), str(tmp_path / "blocks"))
    assert str_path == want  # a BarBlock of the str lines' fast path, too


def test_a_name_twice_in_a_gesturelsm_line_is_stored_as_its_points_are(tmp_path: Any) -> None:
    # The generative format's fast path (core/fastscan.py) gives a BarBlock of the line's
    # names: `loss` twice made the same two series as a tqdm bar's key twice.
    data = b"".join(b" 09-09 | [001][%03d/311]  loss: 0.%d loss: 0.5\n" % (i, i) for i in range(99))
    lines = LineSplitter().feed(data)
    old = MetricParser("gesturelsm", fast=False).parse_lines(lines)
    want = store_of(old, str(tmp_path / "points"))
    text = LineSplitter().feed_text(data)
    got = store_of(MetricParser("gesturelsm").parse_points(text), str(tmp_path / "blocks"))
    assert got == want
    assert got[0] == ["loss", "epoch"]


def test_a_bar_repainted_after_another_lines_point_of_its_name_is_a_new_point(
    tmp_path: Any,
) -> None:
    # Bar 140, then an evaluation's loss at step 900, then bar 140 again with a new value: in
    # line order the second bar 140 follows the step-900 point, so it replaces nothing; both
    # bar 140 points stay (a repaint is judged between consecutive points of a series). The
    # store already knows `loss` from the read before (the second read is the case).
    reads = [[f"Steps: {i}/900 [00:01, loss=0.{i}]" for i in range(1, 71)]]
    reads.append([f"Steps: {i}/900 [00:01, loss=0.{i}]" for i in range(71, 140)])
    reads[1] += ["Steps: 140/900 [00:01, loss=0.5]", '{"loss": 0.3, "step": 900}']
    reads[1] += ["Steps: 140/900 [00:01, loss=0.6]", "Steps: 141/900 [00:01, loss=0.7]"]
    old, new = MetricParser(fast=False), MetricParser()
    old_store, new_store = MetricStore(str(tmp_path / "old")), MetricStore(str(tmp_path / "new"))
    for lines in reads:
        data = "\r".join(lines).encode() + b"\n"
        old_store.append(old.parse_lines(LineSplitter().feed(data)), 1.0)
        new_store.append(new.parse_points(LineSplitter().feed_text(data)), 1.0)
    got, want = new_store.since(0, 10**9)[0]["series"], old_store.since(0, 10**9)[0]["series"]
    assert got == want
    assert got["loss"]["step"][-4:] == [140, 900, 140, 141]


def test_a_libero_line_read_at_its_first_epoch_whatever_its_digits() -> None:
    # `١٢` is epoch 12 to the line-by-line parser (str's \d), which reads the line's first
    # `[info] Epoch`. A bytes pattern (\d ASCII only) whose lead may pass that first one reads
    # the second, epoch 9, instead. (On main: core/shapescan.py's LIBERO pattern.)
    lines = [f"[info] Epoch: {i} | train loss: 0.5" for i in range(1, 80)]
    lines[40] = "[info] Epoch: ١٢ | train loss: 0.5 | time: 1 [info] Epoch: 9 | train loss: 1"
    data = "\n".join(lines).encode() + b"\n"
    want = MetricParser("libero", fast=False).parse_lines(LineSplitter().feed(data))
    got = MetricParser("libero").parse_points(LineSplitter().feed_text(data)).to_list()
    assert [repr(tuple(p)) for p in got] == [repr(tuple(p)) for p in want]
    assert ("train_loss", 0.5, 12) in want
