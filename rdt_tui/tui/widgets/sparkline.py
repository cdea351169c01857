"""One-line charts of a time window, drawn with block characters (one cell per time slice)."""

from __future__ import annotations

from collections.abc import Sequence

BLOCKS = "▁▂▃▄▅▆▇█"


def spark(
    samples: Sequence[tuple[float, Sequence[float | None]]],
    field: int,
    start: float,
    seconds: float,
    width: int,
    top: float,
) -> str:
    """``width`` cells for the window [start, start + seconds]: each cell shows the highest
    value of ``field`` among the samples in its slice, scaled to ``top``; a slice without
    samples stays blank, so a short history sits at the right, where its time is."""
    if width <= 0:
        return ""
    cells: list[float | None] = [None] * width
    scale = width / seconds if seconds > 0 else 0.0
    for t, values in samples:
        v = values[field]
        if v is None:
            continue
        i = min(width - 1, max(0, int((t - start) * scale)))
        if cells[i] is None or v > cells[i]:  # type: ignore[operator]
            cells[i] = v
    top = top if top > 0 else 1.0
    last = len(BLOCKS) - 1
    return "".join(
        " " if v is None else BLOCKS[min(last, max(0, int(v / top * last + 0.5)))] for v in cells
    )
