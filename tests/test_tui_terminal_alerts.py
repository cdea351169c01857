"""Hearing about it: the bell and an OSC 9 / OSC 777 desktop notification when an alert fires
while the console is open; by default for the run ending and a NaN loss, set in settings."""

from __future__ import annotations

from typing import Any

import pytest

from rdt_tui.config.settings import Settings, SettingsError, load_settings
from rdt_tui.tui.app import make_app
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.terminal_alerts import sequence

from .fakes import metric_batch
from .test_tui_status import QuietClient, bar_text, until


def nan_then_end(run: str) -> list[dict[str, Any]]:
    points = [{"seq": 1, "name": "loss", "value": "nan", "step": 7, "t": 1.0}]
    return [
        {"event": "status", "run": run, "seq": 0, "data": {"status": "running"}},
        {"event": "metric", "run": run, "seq": 1, "data": metric_batch(points)},
    ]


async def heard(settings: Settings, expect: int) -> tuple[list[str], Any]:
    client = QuietClient(nan_then_end("rdt-finetune-1"))

    async def open_run() -> tuple[Any, str]:
        return client, "rdt-finetune-1"

    app = make_app(open_run, settings)
    written: list[str] = []
    app.terminal_alerts.write = written.append
    app.terminal_alerts.in_tmux = False
    async with app.run_test(size=(120, 40)):
        await until(lambda: isinstance(app.screen, DashboardScreen) and "NaN" in bar_text(app))
        final = {"status": "exited", "complete": True, "exit_code": 1}
        client.later.put_nowait({"event": "status", "run": "r", "seq": 2, "data": final})
        await until(lambda: "exited" in bar_text(app))
        await until(lambda: len(written) >= expect)
    return written, app


@pytest.mark.asyncio
async def test_a_nan_loss_and_the_run_ending_ring_and_notify_by_default() -> None:
    written, _ = await heard(Settings(), 2)
    assert len(written) == 2
    nan, ended = written
    assert nan.startswith("\a\x1b]9;rdt-tui: rdt-finetune-1: ") and "NaN loss" in nan
    assert nan.endswith("\x07")
    assert ended.startswith("\a") and "run rdt-finetune-1 failed (exit code 1)" in ended


@pytest.mark.asyncio
async def test_settings_turn_the_bell_off_and_pick_osc_777() -> None:
    settings = Settings(terminal={"bell": False, "desktop": "osc777", "on": ["ended"]})
    written, _ = await heard(settings, 1)
    assert len(written) == 1  # the NaN is not in `on`
    assert written[0].startswith("\x1b]777;notify;rdt-tui;run rdt-finetune-1 failed")


def test_a_log_line_cannot_drive_the_terminal_and_tmux_gets_passthrough() -> None:
    seq = sequence("rdt-tui", "Traceback \x1b]52;c;evil\x07 \x9b", "osc9", in_tmux=False)
    assert seq.count("\x1b") == 1 and seq.count("\x07") == 1 and "\x9b" not in seq
    wrapped = sequence("rdt-tui", "NaN", "osc9", in_tmux=True)
    assert wrapped == "\x1bPtmux;\x1b\x1b]9;rdt-tui: NaN\x07\x1b\\"
    assert sequence("t", "b", "off", in_tmux=False) == ""


def test_a_bad_terminal_table_is_named(tmp_path: Any) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[terminal]\ndesktop = "osc99"\n')
    with pytest.raises(SettingsError, match="desktop must be one of"):
        load_settings(str(path))
    path.write_text('[terminal]\non = ["ended", "nan"]\n')
    with pytest.raises(SettingsError, match="alert kinds"):
        load_settings(str(path))
