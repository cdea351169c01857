"""The wire is typed end to end: mypy, with the project's configuration, reports a misspelled
key where the console reads an agent's answer or event (before, every read was off a bare
``dict[str, Any]`` and a typo failed only when that line ran)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DASHBOARD = os.path.join("rdt_tui", "tui", "screens", "dashboard.py")

READER = """
from rdt_tui.client import AgentClient


async def status_word(c: AgentClient) -> str:
    return str((await c.status("r"))[{status!r}])


async def last_text(c: AgentClient) -> str:
    sub = await c.subscribe("r")
    async for ev in sub:
        if ev["event"] == "log":
            return ev["data"][{text!r}]
        if ev["event"] == "metric":
            return str(ev["data"]["series"]["loss"][{value!r}][-1])
    return ""
"""


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    # The project's configuration (pyproject.toml) and its cache, from the repository root.
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def reader(tmp_path: Path, **keys: str) -> str:
    path = tmp_path / "console_reader.py"
    path.write_text(textwrap.dedent(READER.format(**keys)))
    return str(path)


def test_a_console_module_reading_the_right_keys_type_checks(tmp_path: Path) -> None:
    out = mypy(reader(tmp_path, status="status", text="text", value="value"))
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_reports_a_misspelled_key_of_a_result_and_of_events(tmp_path: Path) -> None:
    out = mypy(reader(tmp_path, status="stauts", text="txt", value="points"))
    assert out.returncode == 1, out.stdout + out.stderr
    assert 'TypedDict "RunSummary" has no key "stauts"' in out.stdout
    assert 'TypedDict "LogData" has no key "txt"' in out.stdout
    # The old per-point shape is gone from a subscription: a metric event holds columns.
    assert 'TypedDict "MetricColumn" has no key "points"' in out.stdout


def test_mypy_reports_a_misspelled_key_in_the_dashboard_itself(tmp_path: Path) -> None:
    """The real dashboard with one key misspelled (mypy reads the copy in its place)."""
    with open(os.path.join(REPO, DASHBOARD)) as fh:
        source = fh.read()
    right = 'ev["data"]["offset"]'
    assert right in source  # where the dashboard reads a log event
    shadow = tmp_path / "dashboard.py"
    shadow.write_text(source.replace(right, 'ev["data"]["ofset"]'))
    out = mypy("--shadow-file", DASHBOARD, str(shadow), DASHBOARD)
    assert out.returncode == 1, out.stdout + out.stderr
    assert 'TypedDict "LogData" has no key "ofset"' in out.stdout
    assert out.stdout.startswith(DASHBOARD), out.stdout  # reported at the dashboard's line
