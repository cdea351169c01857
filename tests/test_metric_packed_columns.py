"""Metric columns packed for the wire (protocol/wire.py ``pack_column``): a client that asks
for them gets each column as the base64 of its little-endian array, which the agent copies
out of its store without making a number's text, and which decodes to exactly what the
list form decodes to (NaN, Inf and points without a step included)."""

from __future__ import annotations

import asyncio
import math
import sys
from typing import Any

from rdt_tui.agent import metricstore
from rdt_tui.agent.metricread import packed_since
from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.client import AgentClient
from rdt_tui.core.metrics import MetricPoint
from rdt_tui.protocol import wire
from rdt_tui.transport.local import LocalTransport


def filled(directory: str) -> MetricStore:
    store = MetricStore(directory)
    store.append([MetricPoint("loss", 1.5, 1), MetricPoint("lr", 1e-4, 1)], 10.0)
    store.append([MetricPoint("loss", math.nan, 2), MetricPoint("acc", 0.5, None)], 11.0)
    store.append([MetricPoint("loss", math.inf, 3), MetricPoint("loss", -math.inf, 3)], 12.0)
    store.append([MetricPoint("big", 1e300, 2**62), MetricPoint("acc", -0.0, 7)], 13.0)
    return store


def same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_packed_columns_decode_as_the_lists_do(tmp_path: Any) -> None:
    store = filled(str(tmp_path / "m"))
    for since in (0, 1, 3, 5, 7):
        lists, last = store.since(since, 100)
        packed, last_p = packed_since(store, since, 100)
        assert last == last_p and packed["count"] == lists["count"]
        assert packed.get("packed", wire.PACKED) == wire.PACKED
        # Through JSON as the link carries them.
        on_wire = [
            wire.decode_line(wire.encode({"event": "metric", "data": c})) for c in (lists, packed)
        ]
        a, b = (wire.decode_columns(m["data"]) for m in on_wire)  # type: ignore[index]
        assert same(a, b), (since, a, b)


def test_a_packed_event_carries_no_number_text(tmp_path: Any, monkeypatch: Any) -> None:
    """The work the agent no longer does: no list per column, no number written as text."""

    def refuse(*args: Any) -> Any:
        raise AssertionError("a wire list was built")

    monkeypatch.setattr(metricstore, "_finite_list", refuse)
    monkeypatch.setattr(metricstore, "_step_list", refuse)
    store = filled(str(tmp_path / "m"))
    packed, _ = packed_since(store, 0, 100)
    line = wire.encode({"event": "metric", "data": packed})
    for col in wire.decode_line(line)["data"]["series"].values():  # type: ignore[index]
        assert all(isinstance(col[k], str) for k in ("seq", "step", "value"))


def test_a_sealed_stores_mapped_columns_pack_too(tmp_path: Any) -> None:
    store = filled(str(tmp_path / "m"))
    view = memoryview(store._series[0].value).cast("B").cast("d")  # as metricseal maps them
    assert wire.pack_column(view[1:3]) == wire.pack_column(store._series[0].value[1:3])
    assert wire.pack_column(view) == wire.pack_column(store._series[0].value)


def test_a_client_gets_packed_metric_events_from_a_real_agent(tmp_path: Any) -> None:
    seen: list[Any] = []
    real = wire.decode_columns

    def spy(columns: Any) -> Any:
        seen.append(columns.get("packed"))
        return real(columns)

    async def main() -> list[Any]:
        wire.decode_columns = spy
        try:
            async with AgentClient(LocalTransport(str(tmp_path / "state"))) as c:
                job = "print('step=1 loss=0.5'); print('step=2 loss=0.25', flush=True)"
                run = await c.launch([sys.executable, "-c", job], cwd=str(tmp_path))
                sub = await c.subscribe(run["id"])
                points: list[Any] = []
                while not points:
                    ev = await sub.next(30)
                    if ev["event"] == "metric":
                        points = wire.points_of(ev["data"])
                await c.call("shutdown", {})
                return points
        finally:
            wire.decode_columns = real

    points = asyncio.run(main())
    assert seen and set(seen) == {wire.PACKED}
    assert [(p["name"], p["step"], p["value"]) for p in points] == [
        ("loss", 1, 0.5),
        ("loss", 2, 0.25),
    ]
