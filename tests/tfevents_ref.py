"""Helpers for the event-file tests: TensorBoard's own reader on a directory, and ours."""

from __future__ import annotations

import os
import time
from typing import Any

from rdt_tui.agent.eventfiles import EventFiles

Series = dict[str, list[tuple[int, float]]]


def tensorboard_scalars(logdir: str) -> Series:
    """Every scalar of one TensorBoard run directory, as TensorBoard's server reads it
    (plugin_event_accumulator: simple_value migrated to tensors, purges applied)."""
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea
    from tensorboard.util import tensor_util

    acc = pea.EventAccumulator(logdir, size_guidance={"tensors": 0})
    acc.Reload()
    out: Series = {}
    for tag in acc.Tags()["tensors"]:
        meta = acc.summary_metadata.get(tag)
        if meta is None or meta.plugin_data.plugin_name != "scalars":
            continue
        out[tag] = [
            (e.step, float(tensor_util.make_ndarray(e.tensor_proto).item()))
            for e in acc.Tensors(tag)
        ]
    return out


def apply(points: list[Any], purges: list[Any], series: Series | None = None) -> Series:
    """Our follower's output laid out as TensorBoard keeps it: purges applied in order."""
    series = {} if series is None else series
    todo = sorted(purges, key=lambda p: p[2])
    k = 0
    for i in range(len(points) + 1):
        while k < len(todo) and todo[k][2] == i:
            names, at_step, _ = todo[k]
            for n in names:
                if n in series:
                    series[n] = [p for p in series[n] if p[0] < at_step]
            k += 1
        if i < len(points):
            name, value, step = points[i]
            series.setdefault(name, []).append((step, value))
    return series


def ours(cwd: str, pattern: str = "logs/**/events.out.tfevents.*", since: float = 0.0) -> Series:
    files = EventFiles(cwd, [pattern], since)
    series: Series = {}
    while True:
        points, purges, more = files.poll()
        apply(points, purges, series)
        if not more:
            break
    assert not files.problems, files.problems
    return series


def later() -> None:
    """SummaryWriter names files by the second: a second writer must start in a later one."""
    time.sleep(1.05)


def event_files(directory: str) -> list[str]:
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if "tfevents" in n)
