"""A snapshot of the comparison screen at 120x40: two runs on two hosts, fed with fixed points
(no polling), so the picture is the same on every machine.

Re-record after a deliberate change with `pytest tests/test_tui_compare_snapshot.py
--snapshot-update` and review the SVG."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.pilot import Pilot

from rdt_tui.tui.app import make_console_app
from rdt_tui.tui.screens.compare_screen import CompareScreen
from rdt_tui.tui.widgets.compare_chart import CompareChart

BASE = ["accelerate", "launch", "--num_processes", "2", "main.py", "--train_batch_size", "32"]
RUNS: list[dict[str, Any]] = [
    {
        "id": "rdt-ft-20260101-0900",
        "host": "gpu-a",
        "profile": "rdt-finetune",
        "started_at": 1000.0,
        "argv": [*BASE, "--learning_rate", "1e-4", "--gradient_accumulation_steps", "1"],
    },
    {
        "id": "rdt-ft-20260101-1400",
        "host": "gpu-b",
        "profile": "rdt-finetune",
        "started_at": 5000.0,
        "argv": [*BASE, "--learning_rate", "3e-4", "--gradient_accumulation_steps", "4"],
    },
]


def points(run: dict[str, Any]) -> list[dict[str, Any]]:
    fast = run["host"] == "gpu-b"
    out = []
    for i in range(1, 201):
        loss = 1.0 / (1 + i / (10 if fast else 25))
        t = run["started_at"] + i * (2.0 if fast else 1.5)
        out.append({"seq": 2 * i - 1, "name": "loss", "value": round(loss, 4), "step": i, "t": t})
        out.append({"seq": 2 * i, "name": "lr", "value": 1e-4, "step": i, "t": t})
    return out


async def fetch(run: dict[str, Any], since: int) -> dict[str, Any]:
    if since:
        return {"points": [], "last_seq": since}
    return {"points": points(run), "last_seq": 400}


def test_compare_screen(snap_compare: Any) -> None:
    app = make_console_app([], lambda name: None)  # type: ignore[arg-type, return-value]

    async def ready(pilot: Pilot[Any]) -> None:
        screen = CompareScreen([dict(r) for r in RUNS], fetch, poll_s=0)
        await app.push_screen(screen)
        for _ in range(300):
            if screen.loaded:
                break
            await asyncio.sleep(0.02)
        screen.query_one(CompareChart).redraw()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=ready)
