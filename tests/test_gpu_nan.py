"""A GPU field that reads as NaN or Inf is a field not reported (None), like "[N/A]": the
wire's type for it is a number or None, and the console's GPU pane formats numbers.

Before, ``nvidia-smi`` printing ``nan`` for a utilisation failed the whole sample ("GPU query
failed": every GPU gone from the pane), and a NaN power reached the console as the text
``"nan"`` (the daemon's fallback encoding), where the pane's ``f"{power:.0f}"`` raised."""

from __future__ import annotations

import math
from typing import Any

import pytest
from textual.app import App, ComposeResult

from rdt_tui.agent.daemon import json_safe
from rdt_tui.agent.gpu import parse_smi
from rdt_tui.protocol import wire
from rdt_tui.tui.widgets.gpu_pane import GpuPane

ROW = ["0", "NVIDIA H100", "GPU-a", "nan", "30000", "81559", "NaN", "700.00", "inf", "1980"]
# Only the power unreadable: the sample parsed before, with the power a float NaN.
POWER_NAN = ["0", "NVIDIA H100", "GPU-a", "88", "30000", "81559", "NaN", "700.00", "61", "1980"]


def test_non_finite_smi_fields_are_not_reported() -> None:
    [gpu] = parse_smi([ROW], [], lambda pid: None)
    assert gpu["util"] is None and gpu["power"] is None and gpu["temp"] is None
    assert gpu["mem_used"] == 30000 * 1024 * 1024 and gpu["power_limit"] == 700.0
    assert all(not (isinstance(v, float) and not math.isfinite(v)) for v in gpu.values())


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield GpuPane()


@pytest.mark.asyncio
async def test_a_sample_from_the_smi_backend_crosses_the_wire_and_is_drawn() -> None:
    sample: dict[str, Any] = {
        "t": 1.0,
        "simulated": False,
        "backend": "nvidia-smi",
        "reason": "",
        "gpus": parse_smi([POWER_NAN], [], lambda pid: None),
    }
    # As the daemon sends an event: its fallback spells a NaN as text, which the pane
    # could not format.
    msg = wire.decode_line(wire.encode(json_safe({"event": "gpu", "data": sample})))
    assert msg is not None
    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        pane = app.query_one(GpuPane)
        pane.show(msg["data"], None)
        await pilot.pause(0.3)
        text = pane.render_text(msg["data"])
        assert "88%" in text and "61C" in text  # the readings there are, the power as "-"
