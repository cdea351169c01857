"""A chunk's bars and the points of the lines between them go into the store as one run
(core/parsed.py BarRun, agent/metricblock.py append_run), read from the log's undecoded bytes
(core/logtext.py LogText), as the agent's watcher does. Held to the point-by-point path: the
same names, seqs, steps and values, and records on disk that replay to the same store."""

from __future__ import annotations

import io
import json
import random
from typing import Any

from tqdm import tqdm

from rdt_tui.agent import metricblock
from rdt_tui.agent.follower import MAX_LINE
from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser
from rdt_tui.core.parsed import BarRun


def mixed_log(steps: int, seed: int) -> bytes:
    """Real tqdm repaints (update, then set_postfix) with other lines between them: sample
    dicts, JSON lines, chatter, a line giving a bar's own name, a name first seen late, a
    NaN loss, an evaluation bar without a postfix."""
    rng = random.Random(seed)
    out = io.StringIO()
    bar = tqdm(total=steps, file=out, desc="Steps", mininterval=0, miniters=1, ascii=True)
    for step in range(1, steps + 1):
        bar.update(1)
        loss = float("nan") if rng.random() < 0.002 else 1.0 / step
        bar.set_postfix(loss=loss, lr=0.0001)
        roll = rng.random()
        if roll < 0.03:
            out.write("\n12/12/2024 07:07:23 - INFO - __main__ - {'x_sample_mse': 0.5}\n")
        elif roll < 0.05:
            out.write("\n" + json.dumps({"train_loss": 0.1, "global_step": step}) + "\n")
        elif roll < 0.06:
            out.write("\n[INFO] [loss_scaler.py:183] OVERFLOW! Attempted loss scale: 65536\n")
        elif roll < 0.065:
            out.write("\nval: loss=0.25\n")  # a bar's own name from another line
        elif roll < 0.07 and step > steps // 2:
            out.write(f"\nlate_metric={step}\n")  # a name first seen mid-log
        elif roll < 0.075:
            out.write("\rEval: 100%|##########| 50/50 [00:01<00:00]\n")
    bar.close()
    return out.getvalue().encode()


def store_state(store: MetricStore) -> dict[str, Any]:
    page, last = store.since(0, 10**9)
    return {"last": last, "series": json.dumps(page["series"]), "names": list(store.names)}


def feed(data: bytes, text: bool, directory: str, cut: int) -> MetricStore:
    store = MetricStore(directory)
    splitter, parser = LineSplitter(0, MAX_LINE), MetricParser("auto")
    for i in range(0, len(data), cut):
        piece = data[i : i + cut]
        if text:
            store.append(parser.parse_points(splitter.feed_text(piece)), 1.0)
        else:
            store.append(parser.parse_lines(splitter.feed(piece)), 1.0)
    store.append(parser.parse_lines(splitter.flush()), 1.0)
    store.save_cursor({})
    return store


def test_runs_from_the_bytes_store_what_points_store(tmp_path: Any, monkeypatch: Any) -> None:
    taken = {"whole": 0, "cut": 0, "refused": 0}
    append_run = metricblock.append_run

    def counting(store: Any, run: BarRun, *args: Any) -> Any:
        done = append_run(store, run, *args)
        shared = any(q[0] in run.keys for _, points in run.others for q in points)
        taken["refused" if done is None else "cut" if shared else "whole"] += 1
        return done

    monkeypatch.setattr("rdt_tui.agent.metricstore.append_run", counting)
    for seed in range(4):
        data = mixed_log(4000, seed)
        for cut in (1 << 20, 50_000, 7_919):
            base = tmp_path / f"{seed}-{cut}"
            by_points = feed(data, False, str(base / "points"), cut)
            by_runs = feed(data, True, str(base / "runs"), cut)
            assert store_state(by_runs) == store_state(by_points)
            by_runs.close()
            again = MetricStore(str(base / "runs"))
            assert again.load() is not None
            assert store_state(again) == store_state(by_points)  # the records replay the same
            by_points.close()
            again.close()
    # Both ways were taken: whole runs, and runs cut where another line gives a bar's name.
    assert taken["whole"] > 20 and taken["cut"] > 20, taken


def test_a_run_is_what_the_parser_gives_for_a_chunk_of_bars_and_other_lines() -> None:
    data = mixed_log(3000, 9)
    splitter = LineSplitter(0, MAX_LINE)
    parsed = MetricParser("auto").parse_points(splitter.feed_text(data))
    runs = [p for p in parsed.parts if isinstance(p, BarRun)]
    assert runs and sum(len(r.steps) for r in runs) > 2000
    assert any(r.others for r in runs)
    lines = LineSplitter(0, MAX_LINE).feed(data)
    want = MetricParser("auto", fast=False).parse_lines(lines)
    assert [repr(tuple(p)) for p in parsed.to_list()] == [repr(tuple(p)) for p in want]
