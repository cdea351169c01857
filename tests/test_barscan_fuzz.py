"""A fuzzer for the agent's parse of a log's bytes, held to the old line path.

The agent's watcher reads a log as a ``LogText`` (core/logtext.py), the bar scanner cuts its
bytes at every plain bar (core/barscan.py) and the store appends a chunk as one ``BarRun``
(agent/metricblock.py). For ANY byte stream cut into ANY chunks all of it must be exactly what
the old line path gives: ``LineSplitter.feed`` -> ``MetricParser(fast=False).parse_lines`` ->
``MetricStore.append`` of the point list, and ``fatal_word`` over the joined lines. Checked
after every chunk: the lines, the points (name, value, step, in order), the parser's state
(``last_step``, ``_last_bar``, once restored from a cursor on the way), the fatal line; at the
end the stores (names, every series' seq, step, value) and the records they replay from.

The logs are generated (random.Random, fixed seeds): plain bars, bars built from a grammar
whose every part is sometimes a near miss, bars mutated byte by byte, real tqdm output, and
the other lines every format reads, with every line end; small ``max_line`` and ``MAX_NAMES``
too. Each seed's log is cut at random, at CRLFs, next to line ends, or not at all.
"""

from __future__ import annotations

import io
import itertools
import json
import random
from typing import Any

import pytest
from tqdm import tqdm

from rdt_tui.agent import metricstore
from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.core import barscan, fastscan
from rdt_tui.core.alerts import ALERT_WORDS, fatal_word
from rdt_tui.core.formats import FORMATS
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser

KEYSETS = [
    ("loss",),
    ("loss", "lr"),
    ("loss", "lr", "grad_norm"),
    ("a.b-c",),
    ("train/loss", "lr"),
    ("löss",),
    ("e", "E"),
    ("Iter",),
    ("nan",),
    ("loss", "loss"),  # a key twice: the second value replaces the first
    tuple(f"k{i}" for i in range(14)),
    ("a_very_long_key_name_number_one", "another_long_key_two"),
    ("x" * 201,),  # longer than the store keeps
]
GOOD = ["0.0152", "5e-5", "1", "-.25", "+.5", "1.", "1E+05", "nan", "-inf", "NaN", "-0", "00.5"]
ODD = ["", "1e", "1.2.3", "abc", "1_0", " 1", "0x10", "١٢", "1e5e5", "+", "Infinity", "+-nan"]
ODD += ["nAn", "1e400", "9" * 30, "0.5=3", "5/3 [x", "Train. Iter 5 : x", "_sample_mse'"]
ENDS = [b"\r", b"\r", b"\r", b"\n", b"\r\n", b"\r\r\n", b"\n\n", b"\r\r"]
# Inserted into bars and other lines: what a bar's pattern must refuse or a format needs.
TOKENS = [b"/", b"[", b"]", b"=", b",", b", ", b" ", b"'", b">", b"I", b"\x1b[0m", b"0", b"12"]
TOKENS += [b"\xff", b"\xc3", b"\x85", b"\x0b", b"\x0c", b"\t", b"\r", b"\n", b"\r\n", b"\x00"]
TOKENS += [x.encode() for x in ("٣", "é", "█", "\u2028", "\u0085", "\xa0", "Iter ", "][", ">>>>")]
TOKENS += [b"{", b"}", b":", b": ", b"Train. Iter 5 :", b"[info] Epoch: 3 | train loss: 0.5"]
TOKENS += [b"_sample_mse'", b"Validation Results >>>> fgd: 0.4", b"nan", b"e", b".", b"-", b"+"]
TOKENS += [b"NCCL", b"Traceback", b"CUDA out of memory", b"loss=", b", loss=nan", b"step=9"]
TOKENS += [b"/9 [", b"5/", b"9" * 16, b"1e5"]
OTHERS = [
    b"eval: val_loss=0.25",
    b"val: loss=0.25",  # a bar's own name from another line
    b'{"loss": 0.5, "global_step": 7}',
    b'{"train_loss": 0.1, "step": 99999}',
    b"Traceback (most recent call last):",
    b"torch.cuda.OutOfMemoryError: CUDA out of memory.",
    b"node7:4:4 [0] NCCL INFO Channel 00/02",
    b"Watchdog caught collective operation timeout",
    b"late_metric=3",
    b"",
    b"   ",
    b"Eval: 100%|##########| 50/50 [00:01<00:00]",
    b"Epoch: 30\x1b[0m/99 [00:01]",  # a bar once its colour codes are removed
    b"Iter 5/9 [00:01, loss=0.5]",  # a bar, not a plain one
    b"12/12/2024 07:07:23 - INFO - __main__ - {'agilex_sample_mse': 0.0123}",
    b"Train. Iter 7 : \t Commit. 0.1 \t PPL. 512.0 \t Recons.  0.5",
    b" 09-09 12:00:00 | [003][010/100]  predict_x0_loss: 0.123 lr: 0.0001",
    b" 09-09 | Validation Results >>>> fgd: 0.410 bc: 0.738",
    b"gpu-a: [info] Epoch: 5 | train loss:  1.50 | time: 0.90",
    b"step=5 loss=0.3",
    "损失 loss=0.25 ünïcode".encode(),
    b"\xff\xfe garbage \xc3",
    b"a=1\x0bb=2",
    "x\u2028loss=3".encode(),
    b"n\x85loss=4",
    b"\x0closs=5",
    b"x" * 100 + b"Traceback",  # past a small max_line: not in the line as cut
    b"NCCL" + b"y" * 5000,
    b"z" * 20 + b"CUDA out of memory",
]


def pick(rng: random.Random, common: list[Any], odd: list[Any], p: float = 0.25) -> Any:
    return rng.choice(odd) if rng.random() < p else rng.choice(common)


def plain_bar(rng: random.Random, step: int, keys: tuple[str, ...], odd: float) -> bytes:
    """A bar from a grammar whose every part is sometimes a near miss (``odd``: how often a
    value is not a number)."""
    prefix = pick(
        rng,
        [b"Steps: ", "Steps:  12%|█▍  | ".encode(), b"", b"x1", b"node-3: Steps:  5%|| "],
        [b"a/b ", b"Iter ", b"[x] ", b"> ", b"'", b"=", b"\x1b[0m", "٣".encode(), b"\xff", b"{"],
    )
    n = pick(
        rng,
        [str(step).encode()],
        [b"", b"0%d" % step, b"9" * 15, b"9" * 16, b"1\x1b[0m2", b"-1", b"1.5", "٣1".encode()],
    )
    total = pick(rng, [b"200", b"9"], [b"", "٣".encode(), b"x", b"0", b"9" * 20, b"2 00"])
    sep = pick(rng, [b" ["], [b"[", b"  [", b" ]", b" [[", b" [\x1b[0m", b"\t["], 0.1)
    clock = pick(
        rng,
        [b"00:48<05:52, 2.0s/it", b"00:00<?, ?it/s", b""],
        [b"a=1", b"'", b">", b"I", b"[", b"\x1b[1m", b"t=3", b"00:01, 5/9 [", b"x]", b","],
    )
    ks = list(keys)
    if rng.random() < 0.1:
        ks = rng.choice([ks[::-1], ks[:-1], [*ks, "extra"], ["löss"], [k.upper() for k in ks]])
    joiner = pick(rng, [b", "], [b",", b",  ", b" ,", b"; "], 0.05)
    equals = pick(rng, [b"="], [b" = ", b":", b"=="], 0.03)
    postfix = b"".join(
        joiner + k.encode() + equals + pick(rng, GOOD, ODD, odd).encode() for k in ks
    )
    close = pick(
        rng,
        [b"]", b"]  "],
        [b"", b"]]", b"] x", b"]\t", b"] loss=0.5", b"]\x1b[0m", b"] \xff", b"]\x0b", b"] ["],
        0.1,
    )
    return prefix + n + b"/" + total + sep + clock + postfix + close


def mutate(rng: random.Random, line: bytes) -> bytes:
    for _ in range(rng.choice([1, 1, 2, 3])):
        at, roll = rng.randrange(len(line) + 1), rng.random()
        if roll < 0.6:
            line = line[:at] + rng.choice(TOKENS) + line[at:]
        elif roll < 0.8:
            line = line[:at] + line[at + rng.randint(1, 4) :]
        else:
            line = line[:at] + bytes([rng.randrange(256)]) + line[at + 1 :]
    return line


def real_tqdm(rng: random.Random, steps: int) -> bytes:
    """What the real tqdm writes: unicode or ascii bars, many postfix keys, an evaluation bar
    nested under the step bar, messages written through the bar, bars left or cleared."""
    out = io.StringIO()
    nkeys = rng.choice([1, 2, 5, 13])
    ascii_bar = rng.choice([True, False])
    bar = tqdm(
        total=rng.choice([steps, steps * 3, None]),
        file=out,
        mininterval=0,
        miniters=1,
        ascii=ascii_bar,
        leave=rng.choice([True, False]),
        desc=rng.choice(["Steps", "", "训练", "Iter", "a/b", "x[1]"]),
        ncols=rng.choice([None, None, 60, 100, 300]),
        dynamic_ncols=rng.choice([True, False]),
    )
    for step in range(1, steps + 1):
        bar.update(1)
        post: dict[str, Any] = {}
        for j in range(nkeys):
            roll = rng.random()
            value: Any = rng.random() if roll > 0.05 else float("nan")
            if roll < 0.02:
                value = rng.choice(["1_0", "١٢", "Infinity", "x", 3, -0.0, 1e300, -0.5])
            post[f"k{j}" if j else "loss"] = value
        if rng.random() < 0.9:
            bar.set_postfix(post)
        roll = rng.random()
        if roll < 0.05:
            message = rng.choice(
                ["eval: val_loss=0.25", json.dumps({"loss": 0.5, "step": step}), "Traceback"]
            )
            bar.write(message, file=out)
        elif roll < 0.08:
            inner = tqdm(
                total=5, file=out, position=1, leave=rng.choice([True, False]), desc="eval",
                mininterval=0, miniters=1, ascii=ascii_bar,
            )  # fmt: skip
            for _ in range(5):
                inner.update(1)
                inner.set_postfix(loss=rng.random())
            inner.close()
        elif roll < 0.1:
            bar.set_postfix_str(rng.choice(["loss=0.5, lr=1", "abc", "loss=nan, loss=1"]))
    bar.close()
    return out.getvalue().encode("utf-8")


def generated_log(rng: random.Random, lines: int) -> bytes:
    keys = rng.choice(KEYSETS)
    odd = rng.choice([0.0, 0.0, 0.0, 0.01, 0.15])  # a chunk without an odd value: all at once
    parts = [real_tqdm(rng, rng.randint(20, 120))] if rng.random() < 0.3 else []
    step = rng.randint(0, 3) if rng.random() < 0.9 else int("9" * rng.randint(13, 17))
    while len(parts) < lines:
        if rng.random() < 0.6:
            step += 1  # else a repaint of the same step, the same or other values
        roll = rng.random()
        if roll < 0.65:
            fuzzed = rng.random() < 0.3
            line = plain_bar(rng, step, keys, odd) if fuzzed else plain_bar_of(step, keys)
        elif roll < 0.75:
            line = mutate(rng, plain_bar(rng, step, keys, odd))
        elif roll < 0.78:
            line = plain_bar(rng, step, rng.choice(KEYSETS), 0.0)  # another bar's keys
        elif roll < 0.8:
            line = real_tqdm(rng, rng.randint(2, 10))
        elif roll < 0.82:
            line = b"x" * rng.choice([40, 200, 5000]) + plain_bar_of(step, keys)
        else:
            line = rng.choice(OTHERS)
            if rng.random() < 0.3:
                line = mutate(rng, line)
        parts.append(line + rng.choice(ENDS))
    return b"".join(parts)


def plain_bar_of(step: int, keys: tuple[str, ...]) -> bytes:
    """The common case: tqdm's bar with the chunk's keys, values repeating (a learning rate)."""
    values = ", ".join(f"{k}={(step % 7) / 8}" for k in keys)
    return f"Steps:  12%|#2  | {step}/9000 [00:48<05:52, 2.0s/it, {values}]".encode()


def cuts_of(rng: random.Random, data: bytes) -> list[int]:
    roll = rng.random()
    if roll < 0.15:
        return []
    if roll < 0.45:
        return sorted(rng.randrange(len(data) + 1) for _ in range(rng.randint(1, 8)))
    if roll < 0.7:  # inside CRLFs, and just before and after line ends
        ends = [i for i, c in enumerate(data) if c in b"\r\n"]
        cuts = [i + 1 for i in ends if data[i : i + 2] == b"\r\n" and rng.random() < 0.5]
        cuts += [i + rng.choice([0, 1]) for i in ends if rng.random() < 0.1]
        return sorted(cuts)
    return sorted(rng.randrange(len(data) + 1) for _ in range(rng.randint(10, 60)))


def points_of(points: Any) -> list[str]:
    # NaN is never equal to itself: compare reprs, which also tell -0.0 from 0.0.
    return [repr(tuple(p)) for p in points]


def store_state(store: MetricStore) -> tuple[Any, ...]:
    page, last = store.since(0, 10**9)
    return last, list(store.names), json.dumps(page["series"], sort_keys=True)


def restore(parsers: list[MetricParser], as_watcher: bool) -> None:
    """Each parser's state through a cursor's JSON: as the watcher restores it (tuples), or
    left as JSON gives it (lists), which the old path and the new must judge alike."""
    for p in parsers:
        saved = json.loads(json.dumps([p.last_step, p._last_bar]))
        p.last_step, last_bar = saved
        if as_watcher and isinstance(last_bar, list):
            last_bar = (last_bar[0], [tuple(x) for x in last_bar[1]])
        p._last_bar = last_bar


def check(data: bytes, fmt: str, cuts: list[int], max_line: int | None, tmp: Any, rng: Any) -> None:
    """The new path against the old, chunk by chunk (see the module's docstring)."""
    old_split, new_split = LineSplitter(0, max_line), LineSplitter(0, max_line)
    old, new, via_str = MetricParser(fmt, fast=False), MetricParser(fmt), MetricParser(fmt)
    old_store, new_store = MetricStore(str(tmp / "old")), MetricStore(str(tmp / "new"))
    bounds = [0, *cuts, len(data)]
    restore_at = rng.randrange(len(bounds))
    for n, (a, b) in enumerate(itertools.pairwise(bounds)):
        where = (fmt, max_line, n, a, b)
        lines = old_split.feed(data[a:b])
        text = new_split.feed_text(data[a:b])
        if n == len(bounds) - 2:
            lines.extend(old_split.flush())
            text.add_lines(new_split.flush())
        assert text.lines() == lines, where
        want = old.parse_lines(lines)
        got = new.parse_points(text)
        assert points_of(got.to_list()) == points_of(want), where
        assert (new.last_step, new._last_bar) == (old.last_step, old._last_bar), where
        # The str lines' fast path (clients, tools) also cuts at bars with core/barscan.py.
        assert points_of(via_str.parse_lines(list(lines))) == points_of(want), where
        assert (via_str.last_step, via_str._last_bar) == (old.last_step, old._last_bar), where
        word = fatal_word("\n".join(lines))
        first = None if word is None else (word, next(x for x in lines if word in x))
        assert text.first_with(ALERT_WORDS) == first, where
        assert bool(text) == bool(lines), where
        old_store.append(want, 1.0)
        new_store.append(got, 1.0)
        if n == restore_at:
            restore([old, new, via_str], rng.random() < 0.7)
    want_store = store_state(old_store)
    assert store_state(new_store) == want_store, (fmt, max_line)
    assert new_store.dropped == old_store.dropped
    new_store.save_cursor({})
    new_store.close()
    old_store.close()
    again = MetricStore(str(tmp / "new"))
    if want_store[0]:  # a store without points has no records to replay
        assert again.load() is not None
        assert store_state(again) == want_store, (fmt, max_line)  # the records replay the same
    again.close()


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The fast path on every chunk however few lines or bars it has (the fuzzer must not
    pass by never taking it), and how many bars and chunks it really took."""
    seen = {"bars": 0, "at_once": 0, "run_by_run": 0}
    convert = barscan._convert
    at_once, by_run = barscan._Chunk.all_at_once, barscan._Chunk.run_by_run

    def counting(steps: Any, values: Any) -> Any:
        done = convert(steps, values)
        if done is not None:
            seen["bars"] += len(done[0])
        return done

    def counting_at_once(chunk: Any, *args: Any) -> None:
        seen["at_once"] += 1
        at_once(chunk, *args)

    def counting_by_run(chunk: Any, *args: Any) -> None:
        seen["run_by_run"] += 1
        by_run(chunk, *args)

    monkeypatch.setattr(barscan, "_convert", counting)
    monkeypatch.setattr(barscan._Chunk, "all_at_once", counting_at_once)
    monkeypatch.setattr(barscan._Chunk, "run_by_run", counting_by_run)
    monkeypatch.setattr(barscan, "count_lines", lambda data: 0)  # never too sparse to scan
    monkeypatch.setattr(fastscan, "MIN_LINES", 1)
    return seen


def fuzz(seeds: range, formats: list[str], tmp_path: Any, monkeypatch: Any) -> None:
    for seed in seeds:
        rng = random.Random(seed)
        data = generated_log(rng, rng.choice([40, 150, 300, 300, 1200]))
        for fmt in formats:
            monkeypatch.setattr(metricstore, "MAX_NAMES", rng.choice([10000, 10000, 3, 8]))
            max_line = rng.choice([None, 4096, 256 * 1024, 12, 16, 24, 40, 60, 120, 300])
            tmp = tmp_path / f"{seed}-{fmt}"
            check(data, fmt, cuts_of(rng, data), max_line, tmp, rng)


@pytest.mark.parametrize("block", range(4))
def test_fuzzed_logs_cut_anywhere_give_what_the_line_path_gives(
    block: int, taken: dict[str, int], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fuzz(range(block * 30, block * 30 + 30), ["auto"], tmp_path, monkeypatch)
    # The fast path did the work: thousands of bars, chunks all at once and run by run.
    assert taken["bars"] > 2000 and taken["at_once"] > 100 and taken["run_by_run"] > 5, taken


def test_every_format_gives_what_the_line_path_gives(
    taken: dict[str, int], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fuzz(range(1000, 1012), sorted(FORMATS), tmp_path, monkeypatch)
    assert taken["bars"] > 500, taken


@pytest.mark.parametrize("seed", range(3))
def test_real_tqdm_output_gives_what_the_line_path_gives(
    seed: int, taken: dict[str, int], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    data = b"".join(real_tqdm(rng, rng.randint(50, 400)) for _ in range(6))
    for n in range(6):
        cuts = cuts_of(rng, data)
        check(data, "auto", cuts, rng.choice([None, 256 * 1024, 80]), tmp_path / str(n), rng)
    assert taken["bars"] > 1000, taken
