"""The alert engine takes output.log's fatal lines from the run's watcher (which reads those
bytes anyway) instead of reading the log again; only a gap the watcher skipped after a restart
is read by the engine itself. Real RunWatcher and LogFollower on a real file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rdt_tui.agent import alerting
from rdt_tui.agent.alerting import AlertEngine
from rdt_tui.agent.alertstate import RunAlerts
from rdt_tui.agent.watch import RunWatcher
from rdt_tui.core.alerts import DEFAULT_RULES

from .conftest import Agent
from .fakes import OneRunStore
from .test_agent_alerts import hooks, job, posts, serve  # noqa: F401 (a fixture)
from .webhook import Webhook


def watcher(tmp_path: Path, text: str) -> tuple[RunWatcher, Path]:
    log = tmp_path / "output.log"
    log.write_text(text)
    return RunWatcher(OneRunStore(tmp_path), "r1"), log  # type: ignore[arg-type]


def no_reading(*args: Any) -> Any:
    raise AssertionError("the engine read output.log the watcher had read")


def test_the_engine_takes_the_watchers_fatal_lines(tmp_path: Path, monkeypatch: Any) -> None:
    w, log = watcher(tmp_path, "step 1 loss 2.0\nTraceback (most recent call last):\n")
    w._read_logs(False)
    st = RunAlerts("r1", str(tmp_path), dict(DEFAULT_RULES))
    monkeypatch.setattr(alerting, "read_chunk", no_reading)
    text, end = AlertEngine._log_news(st, w, False)
    assert "Traceback (most recent call last):" in text and end == log.stat().st_size
    st.log_pos = end
    assert AlertEngine._log_news(st, w, False) == ("", end), "a line already judged is not news"
    with log.open("a") as fh:
        fh.write("RuntimeError: NCCL communicator was aborted\n")
    w._read_logs(False)
    text, end = AlertEngine._log_news(st, w, False)
    assert text == "RuntimeError: NCCL communicator was aborted" and end == log.stat().st_size


def test_a_gap_the_watcher_skipped_is_read_by_the_engine(tmp_path: Path) -> None:
    """A restart: the watcher's cursor was saved past a Traceback the engine had not judged."""
    past = "Traceback (most recent call last):\n"
    w, _ = watcher(tmp_path, past)
    w.log_from = len(past)  # as if resumed from a saved cursor there
    st = RunAlerts("r1", str(tmp_path), dict(DEFAULT_RULES))
    text, end = AlertEngine._log_news(st, w, False)
    assert text == past and end == len(past)


def test_a_truncated_log_is_judged_from_its_start(tmp_path: Path) -> None:
    w, log = watcher(tmp_path, "x" * 1000 + "\n")
    w._read_logs(False)
    st = RunAlerts("r1", str(tmp_path), dict(DEFAULT_RULES))
    st.log_pos = AlertEngine._log_news(st, w, False)[1]
    log.write_text("CUDA out of memory\n")  # copytruncate, then the job writes on
    w._read_logs(False)
    text, _ = AlertEngine._log_news(st, w, False)
    assert text == "CUDA out of memory"


@pytest.mark.asyncio
async def test_a_run_ending_on_a_fatal_line_gets_it_posted_with_its_end(
    agent: Agent,
    state_dir: str,
    workdir: str,
    hooks: list[Webhook],  # noqa: F811
) -> None:
    """The real agent: the last line, unterminated, is the watcher's final read; the engine
    must not call the run done before it has taken that read's fatal line."""
    hook = serve(hooks, state_dir, "generic")
    c = await agent.client()
    body = "import sys\nprint('step=1 loss=1.0', flush=True)\n"
    body += "sys.stdout.write('RuntimeError: CUDA out of memory. Tried to allocate 2 GiB')\n"
    body += "sys.exit(3)\n"
    run = await c.launch(job(workdir, body), cwd=workdir, name="oom")
    got = await posts(hook, 2)
    alerts = {json.loads(r["body"])["kind"]: json.loads(r["body"]) for r in got}
    assert set(alerts) == {"fatal_line", "exit"}
    assert (
        "log: RuntimeError: CUDA out of memory. Tried to allocate" in alerts["fatal_line"]["text"]
    )
    assert alerts["exit"]["run"] == alerts["fatal_line"]["run"] == run["id"]


def test_a_gap_in_a_log_truncated_while_the_daemon_was_down_is_left(tmp_path: Path) -> None:
    """The saved cursors point past the end of a log cut short meanwhile: the watcher starts
    it again from 0, and so does the engine, instead of reading a gap that is no more."""
    w, log = watcher(tmp_path, "Watchdog caught collective operation timeout\n")
    w._add_follower(w.output_log, 5000)  # as if resumed from a cursor at 5000
    w.log_from = 5000
    w._read_logs(False)
    st = RunAlerts("r1", str(tmp_path), dict(DEFAULT_RULES))
    st.log_pos = 4000
    text, end = AlertEngine._log_news(st, w, False)
    assert text == "Watchdog caught collective operation timeout" and end == log.stat().st_size
