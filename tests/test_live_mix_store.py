"""A live run's mix (the agent CPU benchmark's: tqdm bars on ``\\r``, pure ``key=value`` lines
and JSON lines between them, ``tests/jobs/log_writer.py``), with near misses of each shape
mixed in, read as the watcher reads it (``LineSplitter.feed_text``, ``parse_points``,
``MetricStore.append``) in chunks cut anywhere, gives the store the line-by-line reference
gives (``MetricParser(fast=False)`` on ``LineSplitter.feed``'s lines, the same store): the same
names, seqs, steps and values, and the same parser state after every chunk. Bars repainted for
their step (the last postfix wins), steps carried from a bar into the lines after it, NaN and
inf, lines cut at ``max_line``, bytes that are not UTF-8."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import pytest

from rdt_tui.agent import metricblock
from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.core import jsonshape, kvshape
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser

ODD_JSON = [
    '{{"val_loss": {v}, "global_step": {s}, "extra": {{"a": 1}}}}',
    '{{"val_loss": "{v}", "global_step": {s}}}',
    '{{"val_loss": {v}, "val_loss": 1, "global_step": {s}}}',
    '{{"val_loss":  {v}, "global_step": {s}}}',
    '{{"val_loss": NaN, "global_step": {s}}}',
    '{{"val_loss": -Infinity, "global_step": {s}}}',
    '{{"val_loss": {big}, "global_step": {s}}}',
    '{{"val_loss": true, "global_step": {s}}}',
    '{{"val_loss": -0, "global_step": {s}}}',
    '{{"val_loss": {v}, "global_step": {s}.0}}',
    '{{"val_loss": {v}}}',  # no step: the bar's before it
    '{{"step": {s}, "global_step": {t}, "val_loss": {v}}}',
    '{{"val_loss": {v}, "global_step": {s}}} ',
]
ODD_KV = [
    "step={s} loss={v} grad_norm=nan",
    "step={s} loss={v} grad_norm=1e400",
    "step={s} loss={v}  grad_norm=1",
    "step={s} loss={v} grad_norm=1 NCCL INFO x",
    "step={big} loss={v} grad_norm=1",
    "loss={v} grad_norm=1",  # no step: the bar's before it
    "step={s} loss={v} grad_norm=1 .. x=2",
    "Step={s} loss={v} grad_norm=\u0663",
]


def mix(seconds: int, seed: int, max_line: int) -> bytes:
    rng = random.Random(seed)
    out, step = io.StringIO(), 0
    for _ in range(seconds * 20):
        for k in range(50):
            step += 1
            v = f"{1.0 / step:.6f}"
            if rng.random() < 0.08:
                pool = ODD_JSON if k % 10 == 0 else ODD_KV
                big = rng.choice(["9" * 400, "99999999999999999", "1" * 15])
                line = rng.choice(pool).format(v=v, s=step, t=step + 1, big=big)
                out.write(line + rng.choice(["\n", "\r\n", "\n"]))
            elif k % 10 == 0:
                out.write(f'{{"val_loss": {1.0 / step:.5f}, "global_step": {step}}}\n')
            elif k % 3 == 0:
                out.write(f"step={step} loss={v} grad_norm={k / 7:.3f}\n")
            else:
                loss = rng.choice(["nan", "inf"]) if rng.random() < 0.0001 else v
                bar = f"Steps: {step % 100}%|##| {step}/99999 [00:01<00:09, 9.9it/s, "
                out.write(f"{bar}loss={loss}, lr=0.0001]\r")
                if rng.random() < 0.1:  # repainted for the same step: the last postfix wins
                    out.write(f"{bar}loss={2.5 / step:.6f}, lr=0.0001]\r")
            if rng.random() < 0.002:
                out.write("x" * (max_line + 10) + " loss=1\n")  # cut by the splitter
            if rng.random() < 0.002:
                out.write("bad \udcff".encode("utf-8", "surrogateescape").decode("latin-1"))
                out.write(" loss=0.5\n")
    return out.getvalue().encode("utf-8", "surrogateescape")


def store_state(store: MetricStore) -> str:
    page, last = store.since(0, 10**9)
    return json.dumps([last, page["series"], store.names])


@pytest.mark.parametrize("seed", range(3))
def test_the_live_mix_stores_what_the_line_path_stores(
    seed: int, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    used = {"kv": 0, "json": 0, "run": 0}
    for name, cls in (("kv", kvshape.KvShapes), ("json", jsonshape.JsonShapes)):
        monkeypatch.setattr(cls, "take", counted(cls.take, used, name))
    monkeypatch.setattr(
        "rdt_tui.agent.metricstore.append_run", counted(metricblock.append_run, used, "run")
    )
    max_line = 300
    data = mix(10, seed, max_line)
    rng = random.Random(seed)
    ours, ref = MetricStore(str(tmp_path / "ours")), MetricStore(str(tmp_path / "ref"))
    fast_split, slow_split = LineSplitter(0, max_line), LineSplitter(0, max_line)
    fast, slow = MetricParser("auto"), MetricParser("auto", fast=False)
    at = 0
    while at < len(data):
        size = rng.choice([60_000, 30_000, 7_919, 120_000])
        piece, at = data[at : at + size], at + size
        ours.append(fast.parse_points(fast_split.feed_text(piece)), 1.0)
        ref.append(slow.parse_lines(slow_split.feed(piece)), 1.0)
        assert (fast.last_step, fast._last_bar) == (slow.last_step, slow._last_bar)
        assert store_state(ours) == store_state(ref)
    ours.append(fast.parse_lines(fast_split.flush()), 1.0)
    ref.append(slow.parse_lines(slow_split.flush()), 1.0)
    assert store_state(ours) == store_state(ref)
    ours.close()
    ref.close()
    assert used["kv"] > 1000 and used["json"] > 500 and used["run"] > 5, used


def counted(fn: Any, used: dict[str, int], name: str) -> Any:
    def counting(*args: Any) -> Any:
        done = fn(*args)
        used[name] += bool(done)
        return done

    return counting
