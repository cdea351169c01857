"""The fast path (core/fastscan.py: bars found in a whole chunk by one regex, plain sample
dicts read without literal_eval) gives exactly the points of the line-by-line parser
(``MetricParser(fast=False)``, the reference): on every corpus file, on generated logs that
mix every line shape the parser knows with its traps, cut at random chunk boundaries, for
every format, with the parser's state (last step, last bar) equal after every chunk.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from typing import Any

import pytest

from rdt_tui.core import barscan, fastscan, jsonscan, shapescan
from rdt_tui.core.formats import FORMATS
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
CORPUS_FILES = [
    os.path.join(CORPUS, kind, name)
    for kind in ("metrics", "non_metrics")
    for name in sorted(os.listdir(os.path.join(CORPUS, kind)))
]


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the bars the fast path really turned into points, and lets it run on every
    call however few lines (the differential test must not pass by never taking it)."""
    seen = {"bars": 0, "dicts": 0}
    convert = barscan._convert

    def counting(steps: Any, values: Any) -> Any:
        done = convert(steps, values)
        if done is not None:
            seen["bars"] += len(done[0])
        return done

    monkeypatch.setattr(barscan, "_convert", counting)
    monkeypatch.setattr(fastscan, "MIN_LINES", 1)
    return seen


def both(data: bytes, fmt: str, cuts: list[int]) -> tuple[list[Any], list[Any]]:
    """(fast points, reference points) of ``data`` fed in pieces cut at ``cuts``; the
    parsers' states must agree after every piece. The fast side is taken twice, and both
    must agree: from the splitter's ``str`` lines, and from its undecoded bytes (``LogText``,
    as the agent's watcher reads) into columns and runs (``ParsedPoints``)."""
    splitter, raw = LineSplitter(0, 4096), LineSplitter(0, 4096)
    fast, slow = MetricParser(fmt), MetricParser(fmt, fast=False)
    agent = MetricParser(fmt)
    got: list[Any] = []
    want: list[Any] = []
    from_bytes: list[Any] = []
    for a, b in itertools.pairwise([0, *sorted(cuts), len(data)]):
        lines = splitter.feed(data[a:b])
        text = raw.feed_text(data[a:b])
        if b == len(data):
            lines.extend(splitter.flush())
            text.add_lines(raw.flush())
        assert text.lines() == lines
        got.extend(fast.parse_lines(lines))
        want.extend(slow.parse_lines(list(lines)))
        from_bytes.extend(agent.parse_points(text).to_list())
        assert (fast.last_step, fast._last_bar) == (slow.last_step, slow._last_bar)
        assert (agent.last_step, agent._last_bar) == (slow.last_step, slow._last_bar)
    same(from_bytes, want)
    return got, want


def taken_over_bytes(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[bool]:
    """Whether each call of a bytes fast path (``module.name``) took its chunk, in order."""
    taken: list[bool] = []
    path = getattr(module, name)

    def counting(*args: Any) -> bool:
        done = bool(path(*args))
        taken.append(done)
        return done

    monkeypatch.setattr(module, name, counting)
    return taken


def same(got: list[Any], want: list[Any]) -> None:
    # NaN is never equal to itself: compare reprs, which also tell -0.0 from 0.0.
    assert [repr(tuple(p)) for p in got] == [repr(tuple(p)) for p in want]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_corpus_file_gives_the_reference_points(fmt: str, spy: dict[str, int]) -> None:
    rng = random.Random(fmt)
    for path in CORPUS_FILES:
        with open(path, "rb") as fh:
            data = fh.read()
        for _ in range(4):
            cuts = [rng.randrange(len(data)) for _ in range(rng.randint(0, 6))]
            got, want = both(data, fmt, cuts)
            same(got, want)
    if fmt in ("auto", "rdt"):
        assert spy["bars"] > 0  # rdt.txt's bars went through the fast path


def bar(rng: random.Random, step: int, keys: tuple[str, ...], values: list[str]) -> str:
    prefix = rng.choice(["Steps: ", "Steps:  12%|#2  | ", "", "node-3: Steps:  5%|| ", "x1"])
    clock = rng.choice(
        ["00:48<05:52, 2.0s/it", "00:00<?, ?it/s", "", "01:02:03<1:00, 9it/s", "t=3, 00:01"]
    )
    postfix = "".join(f", {k}={v}" for k, v in zip(keys, values, strict=False))
    return f"{prefix}{step}/200 [{clock}{postfix}]"


NUMBERS = ["0.0152", "5e-5", "1", "-0.25", "+.5", "1.", "1E+05", "nan", "inf", "-inf", "NaN"]
ODD_VALUES = ["", "1e", "1.2.3", "abc", "1_0", " 1", "0x10", "١٢", "1e5e5", "+", "Infinity"]


def generated_line(rng: random.Random, step: int, keys: tuple[str, ...]) -> str:
    kind = rng.random()
    if kind < 0.55:  # the common case: a plain bar with the chunk's keys
        return bar(rng, step, keys, [rng.choice(NUMBERS[:7]) for _ in keys])
    choices = [
        lambda: bar(rng, step, keys, [rng.choice(NUMBERS + ODD_VALUES) for _ in keys]),
        lambda: bar(rng, step, ("loss",), ["0.5"]),  # other keys
        lambda: bar(rng, step, ("train/loss", "lr"), ["0.5", "1e-4"]),
        lambda: bar(rng, step, (), []) + "",  # an epoch bar: no postfix
        lambda: bar(rng, step, keys, ["0.5"] * len(keys)) + "eval: val_loss=0.25",
        lambda: bar(rng, step, keys, ["0.5"] * len(keys)) + " ",
        lambda: "\x1b[34m" + bar(rng, step, keys, ["0.5"] * len(keys)) + "\x1b[0m",
        lambda: "Iter " + bar(rng, step, keys, ["0.5"] * len(keys)),
        # Lines a project format claims before the bar is looked at.
        lambda: "Train. Iter 7 : " + bar(rng, step, keys, ["0.5"] * len(keys)),
        lambda: " Validation Results >>>> " + bar(rng, step, keys, ["0.5"] * len(keys)),
        lambda: bar(rng, int("1" * rng.randint(14, 18)), keys, ["0.5"] * len(keys)),
        lambda: bar(rng, step, keys, ["0.5"] * len(keys)).replace(f"{step}/", "٣/"),
        lambda: bar(rng, step, keys, ["0.5"] * len(keys)).replace(f"{step}/", f"٣{step}/"),
        lambda: "a/b " + bar(rng, step, keys, ["0.5"] * len(keys)),
        lambda: bar(rng, step, keys, ["0.5"] * len(keys)).replace(f"{step}/", f"0{step}/"),
        lambda: bar(rng, step - 1, (), []).replace("/", "\x1b[0m/", 1),  # a bar once uncoloured
        # Colour codes between digits: the reference reads n once they are removed.
        lambda: bar(rng, step, keys, ["0.5"] * len(keys)).replace(f"{step}/", f"1\x1b[0m{step}/"),
        lambda: "{" + bar(rng, step, keys, ["0.5"] * len(keys)) + "}",
        lambda: (
            f"12/12/2024 07:07:23 - INFO - __main__ - {{'agilex_sample_mse': "
            f"{rng.choice(['0.0123', '-0', '1e-05', '5', '12345678901234567890123', 'nan'])}, "
            f"'overall_avg_sample_mse': {rng.choice(['0.5', '00.5', '1_0', '-0.0', 'True'])}}}"
        ),
        lambda: "12/12/2024 - INFO - m - [RANK 0] {'a_sample_mse': 0.1, 'a_sample_mse': 0.2}",
        lambda: json.dumps({"train_loss": rng.random(), "global_step": step, "lr": 1e-4}),
        lambda: f"val_loss: {rng.random():.3f}, acc=0.91",
        lambda: f"step={step} loss={rng.choice(NUMBERS)}",
        lambda: f"Train. Iter {step} : \t Commit. 0.1 \t PPL. 512.0 \t Recons.  0.5",
        lambda: f" 09-09 12:00:00 | [{step:03d}][010/100]  predict_x0_loss: 0.123 lr: 0.0001",
        lambda: " 09-09 | Validation Results >>>> fgd: 0.410 bc: 0.738",
        lambda: f"gpu-a: [info] Epoch: {step} | train loss:  1.50 | time: 0.90",
        lambda: "node7:41200:41310 [0] NCCL INFO Channel 00/02 : 0[0] -> 1[1] via P2P",
        lambda: "[2024-12-12 07:07:27,434] [INFO] [loss_scaler.py:183:update_scale] loss: 2",
        lambda: "x" * rng.choice([10, 5000]) + bar(rng, step, keys, ["0.5"] * len(keys)),
        lambda: "",
        lambda: "损失 loss=0.25 ünïcode",
    ]
    return rng.choice(choices)()


def generated_log(seed: int, lines: int = 600) -> bytes:
    rng = random.Random(seed)
    keys = rng.choice([("loss", "lr"), ("loss",), ("loss", "lr", "grad_norm"), ("a.b-c",)])
    step, parts = 1, []
    for _ in range(lines):
        if rng.random() < 0.6:
            step += 1  # else a repaint of the same step, same or other values
        parts.append(generated_line(rng, step, keys))
        parts.append(rng.choice(["\r", "\r", "\n", "\r\n"]))
    return "".join(parts).encode()


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("fmt", ["auto", "rdt", "dp", "gesturelsm", "libero", "gesturelsm-rvq"])
def test_generated_logs_cut_anywhere_give_the_reference_points(
    seed: int, fmt: str, spy: dict[str, int]
) -> None:
    data = generated_log(seed)
    rng = random.Random(seed * 7 + 1)
    for pieces in (0, 3, 40):
        cuts = [rng.randrange(len(data)) for _ in range(pieces)]
        got, want = both(data, fmt, cuts)
        same(got, want)
    if fmt in ("auto", "rdt"):
        assert spy["bars"] > 100


def test_a_repaint_cut_across_two_chunks_is_still_skipped(spy: dict[str, int]) -> None:
    line = "Steps: 24/200 [00:48<05:52, 2.0s/it, loss=0.0152, lr=0.0001]\r"
    data = (line * 3 + line.replace("24/", "25/") * 2).encode()
    got, want = both(data, "auto", [len(line), 2 * len(line) + 5])
    same(got, want)
    assert [(p.name, p.step) for p in got] == [("loss", 24), ("lr", 24), ("loss", 25), ("lr", 25)]


def test_a_long_plain_bar_log_goes_through_the_fast_path() -> None:
    # At the real MIN_LINES, as the agent feeds it: the fast path is taken, and it agrees.
    data = b"".join(
        f"Steps: {i}/9000 [00:01<00:02, 3.0it/s, loss={1 / i:.4g}, lr=0.0001]\r".encode()
        for i in range(1, 3001)
    )
    out: list[Any] = []
    parser = MetricParser()
    lines = LineSplitter().feed(data)
    assert fastscan.parse_lines(parser, lines, out)
    assert len(out) == 6000
    same(out, MetricParser(fast=False).parse_lines(lines))


def test_lines_that_hold_a_newline_are_parsed_one_by_one(spy: dict[str, int]) -> None:
    # Not what the splitter gives, but parse_lines takes any list: the fast path steps back.
    lines = [f"Steps: {i}/90 [00:01, loss=0.5]" for i in range(1, 80)]
    lines[40] = "Train. Iter 7 : done\nSteps: 4/90 [00:01, loss=0.125]"  # one RVQ line
    same(MetricParser().parse_lines(lines), MetricParser(fast=False).parse_lines(lines))


def test_a_repaint_is_the_same_step_as_a_number(spy: dict[str, int]) -> None:
    # 024 and ٢٤ are step 24 to the reference: a repaint with the same values, no point.
    lines = [f"Steps: {n}/200 [00:01, loss=0.5]" for n in ("23", "24", "024", "٢٤", "25")]
    got = MetricParser().parse_lines(lines)
    same(got, MetricParser(fast=False).parse_lines(lines))
    assert [p.step for p in got] == [23, 24, 25]


def test_only_newline_and_carriage_return_end_lines() -> None:
    # str.splitlines (the splitter's fast way) also breaks at these; a terminal does not.
    for odd in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
        splitter = LineSplitter()
        text = f"loss=0.5{odd}x\r\nb\rc\n\n"
        assert splitter.feed(text.encode()) == [f"loss=0.5{odd}x", "b", "c", ""], repr(odd)
    assert LineSplitter().feed(b"a\r\r\nb\n") == ["a", "", "b"]


def test_a_bar_hidden_by_colour_codes_between_plain_bars_counts_as_a_bar(
    spy: dict[str, int],
) -> None:
    # The middle line is a bar (step 30) once its colour codes are removed: the repaint of
    # step 24 after it is no repaint of the bar just before, and gives its points again.
    lines = ["Steps: 24/200 [00:01, loss=0.5]"] * 3
    lines.insert(1, "Epoch: 30\x1b[0m/99 [00:01]")
    lines += [f"Steps: {i}/200 [00:01, loss=0.5]" for i in range(25, 90)]
    got = MetricParser().parse_lines(lines)
    same(got, MetricParser(fast=False).parse_lines(lines))
    assert [p.step for p in got[:2]] == [24, 24]


def shaped_line(rng: random.Random, step: int, fmt: str) -> str:
    """Lines of LIBERO's and GestureLSM's RVQ-VAE shapes, and their near misses; a line
    without the optional field (time, lr) only now and then (it sends a chunk line by line)."""
    num = rng.choice(
        ["0.5", "1.20", "5e-5", "nan", "inf", "-inf", "+inf", "-0.25", "0.5x", "1.", "0.5\x1b[0m5"]
    )
    n = rng.choice([str(step)] * 8 + ["1" * 17, "9" * 20, "١٢", "0012", f"1\x1b[0m{step}"])
    lead = rng.choice(["", "", "node-a: ", "2024-09-09 12:00:00,000 INFO ", "a.b ", "x\x1b[1m"])
    tail = rng.choice(["", "", " ", " | extra", "\t", "\xa0"])
    sp = rng.choice([" ", "  ", "\t", "\xa0"])
    if fmt == "libero":
        choices = [
            f"{lead}[info] Epoch:{sp}{n} | train loss:{sp}{num} | time:{sp}{num}{tail}",
            f"{lead}[info] Epoch: {n} | train loss: 0.5 | time: 1 [info] Epoch: 9 | train loss: 1",
            f"[info] Epoch: {n} | train loss: 0.5 | time: 1 | x [info] Epoch: 9 | train loss: 1",
        ]
        rare = f"{lead}[info] Epoch:{sp}{n} | train loss:{sp}{num}{tail}"
    elif fmt == "gesturelsm":
        e = rng.choice(["002", "010", "1" * 9, "٠٠٣", "9" * 14])
        choices = [
            f"{lead}[{e}][{n}/311]{sp} predict_x0_loss:{sp}{num} lr: {num}{tail}",
            f"{lead}[{e}][{n}/311]  predict_x0_loss: 0.5 lr: 0.1 [003][001/311]  x: 1",
            f"{lead}[{e}][{n}/311]  predict_x0_loss: 0.5",
            f"{lead}[{e}][{n}/311]  predict_x0_loss: 0.5 lr: 0.1 >>>> 1",
            f"[x] [{e}][{n}/311]  predict_x0_loss: 0.5 lr: 0.1",
            f"Validation Results >>>> fgd: 0.4 [{e}][{n}/311]  predict_x0_loss: 0.5 lr: 0.1",
            " 09-09 12:01:00 | Validation Results >>>> fgd: 0.410 bc: 0.738 l1div: 12.575",
        ]
        rare = f"[{e}][{n}/311]  other_loss: 0.5 lr: 0.1"
    else:
        choices = [
            f"{lead}Train. Iter {n} : \t Commit. {num} \t PPL. 600.50 \t Recons.  {num}{tail}",
            f"{lead}Train. Iter {n} : \t Commit. 0.1 \t PPL. 1 \t Recons.  0.5 lr 0.3",
            f"{lead}Train. Iter {n} : Commit. 0.1",
            f"Train. Iter 5 : x Train. Iter {n} : \t Commit. 0.1 \t PPL. 1 \t Recons.  0.5",
        ]
        rare = f"{lead}Warmup. Iter {n} :  lr {num}{sp}\t Commit. 0.1 \t PPL. 5 \t Recons.  0.5"
    choices += ["fid: 0.5", "", "损失 loss=0.25"]
    return rare if rng.random() < 0.02 else rng.choice(choices)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("fmt", ["libero", "gesturelsm-rvq", "gesturelsm"])
def test_shaped_formats_give_the_reference_points(
    seed: int, fmt: str, spy: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = []
    shaped = fastscan.parse_shaped

    def counting(parser: Any, lines: Any, out: list[Any]) -> bool:
        before = len(out)
        done = shaped(parser, lines, out)
        taken.append(len(out) - before if done else -1)
        return done

    monkeypatch.setattr(fastscan, "parse_shaped", counting)
    from_bytes = taken_over_bytes(monkeypatch, shapescan, "parse_shaped_bytes")
    rng = random.Random(seed)
    # Mostly the format's own clean lines, some near misses, as a real log has them.
    clean = {
        "libero": "[info] Epoch: {} | train loss: 0.5 | time: 0.9",
        "gesturelsm-rvq": "Train. Iter {} : \t Commit. 0.1 \t PPL. 600.50 \t Recons.  0.5",
        "gesturelsm": " 09-09 12:00:00 | [001][{}/311]  predict_x0_loss: 0.123 lr: 0.000",
    }[fmt]
    parts = []
    for i in range(1, 400):
        line = clean.format(i) if rng.random() < 0.9 else shaped_line(rng, i, fmt)
        parts.append(line + rng.choice(["\n", "\r\n", "\r"]))
    data = "".join(parts).encode()
    for pieces in (0, 2, 30):
        cuts = [rng.randrange(len(data)) for _ in range(pieces)]
        for each in (fmt, "auto"):
            got, want = both(data, each, cuts)
            same(got, want)
    assert sum(n > 0 for n in taken) >= 3  # the fast path gave points, chunk after chunk
    assert sum(from_bytes) >= 3  # and so did the watcher's way, over the bytes


def test_colour_codes_inside_a_shaped_line_are_read_as_the_reference_reads_them(
    spy: dict[str, int],
) -> None:
    lines = [f"[info] Epoch: {i} | train loss: 0.5 | time: 0.9" for i in range(1, 80)]
    lines[40] = "[info] Epoch: 41 | train loss: 0.5 | time: 0.9\x1b[0m5"  # time 0.95
    got = MetricParser("libero").parse_lines(lines)
    same(got, MetricParser("libero", fast=False).parse_lines(lines))
    assert ("epoch_minutes", 0.95, 41) in got


def json_line(rng: random.Random, step: int) -> str:
    """Diffusion Policy's JSON lines and what only looks like them."""
    clean = {"train_loss": rng.random(), "global_step": step, "epoch": step // 311, "lr": 1e-4}
    choices = [
        json.dumps(clean),
        json.dumps({**clean, "val_loss": 0.02, "ok": True, "name": "x", "nested": {"a": 1}}),
        json.dumps({"loss": 0.5}),  # no step: the last one
        '{"step": NaN, "loss": 0.5}',
        '{"global_step": Infinity, "loss": 0.5}',
        '{"step": 3, "loss": ' + "9" * 400 + "}",
        '{"step": 3, "loss": ' + "9" * 300 + "}",
        '{"train_loss": -0, "global_step": 5, "epoch": 0, "lr": 0.0001}',
        '{"train_loss": -0.0, "global_step": 5, "epoch": 0, "lr": -0e5}',
        '{"train_loss": NaN, "global_step": 5, "epoch": 0, "lr": -Infinity}',
        '{"train_loss": 1e400, "global_step": 5, "epoch": 0, "lr": 1E-3}',
        '{"train_loss": 0.5, "global_step": 5.0, "epoch": 0, "lr": 0.1}',
        '{"train_loss": 0.5, "global_step": -5, "epoch": 0, "lr": 0.1}',
        '{"train_loss": 0.5, "global_step": 5, "epoch": 0, "lr": "x"}',
        '{"train_loss": 0.5, "global_step": 5, "epoch": 0, "lr": true}',
        '{"train_loss": 0.5, "global_step": 5, "epoch": 0, "train_loss": 0.25}',
        '{"train_loss": 0.5,"global_step": 5, "epoch": 0, "lr": 0.1}',
        '{"train_loss": 0.5, "global_step": 5, "epoch": 0, "lr": 0.1} ',
        '{"step": 1e300, "loss": 0.5}',
        "{} {}",
        "{}",
        '{"loss": 0.5',
        "{not json}",
        '{"a": ' + "[" * 1500 + "]" * 1500 + "}",  # deeper than the decoder goes
        '{"loss": 0.5} {"x": 1}',  # json.loads refuses the second object
        "\x1b[1m" + json.dumps(clean) + "\x1b[0m",
        "node-a: " + json.dumps(clean),
        "  " + json.dumps(clean) + " ",
        '{"loss": 0.5, "\x1b[0m": 1}',
        "train_loss=0.5 step=9",
        "",
    ]
    return json.dumps(clean) if rng.random() < 0.85 else rng.choice(choices)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("fmt", ["dp", "json", "auto"])
def test_json_lines_give_the_reference_points(
    seed: int, fmt: str, spy: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = []
    scan = fastscan.parse_json_lines

    def counting(parser: Any, lines: Any, out: list[Any]) -> bool:
        before = len(out)
        done = scan(parser, lines, out)
        taken.append(len(out) - before if done else -1)
        return done

    monkeypatch.setattr(fastscan, "parse_json_lines", counting)
    from_bytes = taken_over_bytes(monkeypatch, jsonscan, "parse_json_bytes")
    rng = random.Random(seed)
    data = "".join(json_line(rng, i) + rng.choice(["\n", "\r\n"]) for i in range(300)).encode()
    for pieces in (0, 3, 40):
        cuts = [rng.randrange(len(data)) for _ in range(pieces)]
        got, want = both(data, fmt, cuts)
        same(got, want)
    if fmt != "auto":
        assert sum(n > 0 for n in taken) >= 3
        assert sum(from_bytes) >= 3  # the watcher's way (LogText bytes) took JSON lines too


def test_a_log_of_mostly_chatter_stays_line_by_line() -> None:
    # NCCL_DEBUG=INFO: four chatter lines a bar. The regex over every line would cost more
    # than the bars save, so the fast path steps back; the points are the reference's.
    chatter = "node7:41200:41310 [0] NCCL INFO Channel 00/02 : 0[0] -> 1[1] via P2P/IPC/read"
    lines = []
    for i in range(1, 200):
        lines.append(f"Steps: {i}/900 [00:01<00:02, 3.0it/s, loss={1 / i:.4g}]")
        lines.extend([chatter] * 4)
    out: list[Any] = []
    assert not fastscan.parse_lines(MetricParser(), lines, out) and out == []
    same(MetricParser().parse_lines(lines), MetricParser(fast=False).parse_lines(lines))
    # Half bars and more: taken.
    assert fastscan.parse_lines(MetricParser(), lines[::5] + lines[1::5][:150], out)
