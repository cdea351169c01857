"""The preflight says when the agent's state directory has no room for the run's log."""

from __future__ import annotations

from rdt_tui.core.preflight import evaluate


def state_dir_check(free: int | None) -> dict:
    facts = {"state_dir": {"path": "/home/u/.local/state/rdt-tui", "free": free, "total": 1 << 40}}
    return next(c for c in evaluate(facts, {}) if c["id"] == "state_dir")


def test_room_for_the_log_passes_warns_and_fails() -> None:
    assert state_dir_check(50 << 30)["status"] == "pass"
    low = state_dir_check(500 << 20)
    assert low["status"] == "warn" and "XDG_STATE_HOME" in low["hint"]
    full = state_dir_check(1 << 20)
    assert full["status"] == "fail" and "dropped" in full["detail"]
    assert state_dir_check(None)["status"] == "warn"


def test_no_state_dir_fact_no_check() -> None:
    assert not [c for c in evaluate({}, {}) if c["id"] == "state_dir"]
