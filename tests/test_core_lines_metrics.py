"""Line cutting and metric parsing (core: pure logic, no I/O)."""

from __future__ import annotations

import json
import math
import random

from rdt_tui.core.checkpoints import step_from_name
from rdt_tui.core.downsample import downsample_minmax
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser, MetricPoint, parse_text

BAR = "Steps:  12%|#2  | {n}/200 [00:48<05:52, 2.0s/it, loss={loss}, lr=0.0001]"


def test_partial_line_is_held_back_until_its_end_arrives() -> None:
    s = LineSplitter()
    assert s.feed(b"step=1 loss=0.5\nstep=2 lo") == ["step=1 loss=0.5"]
    assert s.consumed == len(b"step=1 loss=0.5\n")
    assert s.pending == len(b"step=2 lo")
    assert s.feed(b"ss=0.4\n") == ["step=2 loss=0.4"]
    assert s.flush() == []


def test_carriage_returns_are_lines_and_crlf_split_across_chunks_is_one_end() -> None:
    s = LineSplitter()
    assert s.feed(b"a\rb\r") == ["a", "b"]
    assert s.feed(b"\nc\r\n") == ["c"]  # the \n after b's \r is not an empty line
    assert s.consumed == 8


def test_garbage_bytes_never_raise_and_become_replacement_characters() -> None:
    s = LineSplitter()
    lines = s.feed(b"\xff\xfe\x00bad \xc3 loss=1\n")
    assert len(lines) == 1 and "\ufffd" in lines[0] and "loss=1" in lines[0]


def test_utf8_character_cut_between_chunks_survives() -> None:
    data = "损失 loss=0.25\n".encode()
    s = LineSplitter()
    assert s.feed(data[:1]) == []
    assert s.feed(data[1:]) == ["损失 loss=0.25"]


def test_tqdm_bar_takes_the_step_from_n_over_total_and_skips_repaints() -> None:
    text = (
        "\r".join(
            [
                BAR.format(n=24, loss=0.0152),
                BAR.format(n=24, loss=0.0152),
                BAR.format(n=25, loss=0.014),
            ]
        )
        + "\r"
    )
    assert parse_text(text) == [
        MetricPoint("loss", 0.0152, 24),
        MetricPoint("lr", 0.0001, 24),
        MetricPoint("loss", 0.014, 25),
        MetricPoint("lr", 0.0001, 25),
    ]


def test_rdt_real_bar_and_tqdm_number_formats() -> None:
    line = "Steps:   0%|          | 1/200000 [00:04<228:23:10,  4.11s/it, loss=0.00152, lr=5e-5]"
    assert parse_text(line) == [MetricPoint("loss", 0.00152, 1), MetricPoint("lr", 5e-5, 1)]


def test_json_lines_log() -> None:
    line = json.dumps({"train_loss": 0.01, "global_step": 92637, "epoch": 299, "lr": 1e-10})
    points = parse_text(line + "\n")
    assert MetricPoint("train_loss", 0.01, 92637) in points
    assert MetricPoint("lr", 1e-10, 92637) in points
    assert all(p.name != "global_step" for p in points)


def test_key_value_and_key_colon_lines_inherit_the_last_step() -> None:
    text = BAR.format(n=40, loss=0.5) + "\nval_loss: 0.3, acc=0.91\nstep=50 loss=0.2\n"
    points = parse_text(text)
    assert MetricPoint("val_loss", 0.3, 40) in points
    assert MetricPoint("acc", 0.91, 40) in points
    assert MetricPoint("loss", 0.2, 50) in points


def test_timestamps_and_words_are_not_metrics() -> None:
    assert parse_text("12/12/2024 07:07:23 - INFO - __main__ - Saved state to ckpt\n") == []


def test_nan_and_inf_losses_are_points() -> None:
    points = parse_text("loss=nan step=3\nloss: inf\n")
    assert math.isnan(points[0].value) and points[0].step == 3
    assert math.isinf(points[1].value)


def test_parsing_does_not_depend_on_how_the_stream_was_cut() -> None:
    rng = random.Random(7)
    parts = []
    for n in range(300):
        parts.append(BAR.format(n=n, loss=round(rng.random(), 4)) + "\r")
        if n % 10 == 0:
            parts.append(json.dumps({"val_loss": n / 100, "step": n}) + "\n")
    data = "".join(parts).replace("\r", "\r\n", 3).encode()
    whole = parse_text(data.decode())
    for _ in range(20):
        s, p, got = LineSplitter(), MetricParser(), []
        i = 0
        while i < len(data):
            j = i + rng.randint(1, 200)
            got.extend(p.parse_lines(s.feed(data[i:j])))
            i = j
        got.extend(p.parse_lines(s.flush()))
        assert got == whole


def test_downsample_keeps_spikes_and_bounds_the_count() -> None:
    values = [1.0] * 100000
    values[54321] = 50.0
    values[777] = -3.0
    picked = downsample_minmax(values, 200)
    assert len(picked) <= 200
    assert picked[0] == 0 and picked[-1] == len(values) - 1
    assert 54321 in picked and 777 in picked
    assert picked == sorted(picked)


def test_downsample_shows_a_nan_and_works_on_arrays() -> None:
    from array import array

    values = array("d", [0.5] * 50000)
    values[31337] = float("nan")
    picked = downsample_minmax(values, 100)
    assert 31337 in picked and len(picked) <= 100
    assert downsample_minmax([1.0, 2.0], 10) == [0, 1]


def test_checkpoint_names_give_steps() -> None:
    assert step_from_name("checkpoint-36000") == 36000
    assert step_from_name("300.ckpt") == 300
    assert step_from_name("net_300000.pth") == 300000
    assert step_from_name("checkpoint_20") == 20
    assert step_from_name("multitask_model_ep50.pth") == 50
    assert step_from_name("best_fgd") is None
