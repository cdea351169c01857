"""The console without a terminal (`make demo` in CI, `ssh host rdt-tui demo` without -t, a
pipe): a clear error naming the headless way, at once, instead of escape codes painted into
the pipe and a wait for keys that never come."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize(
    ("args", "instead"),
    [
        (["demo"], "rdt-tui demo --headless"),
        (["watch", "localhost", "some-run"], "rdt-tui logs localhost some-run -f"),
        ([], "rdt-tui --help"),
    ],
)
def test_console_without_a_terminal_says_so_and_exits(args: list[str], instead: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,  # the old code never returned: the console waited for keys
        cwd=REPO,
    )
    assert out.returncode == 1, out.stderr
    assert out.stdout == ""  # no escape codes into the pipe
    assert "the console needs a terminal" in out.stderr
    assert instead in out.stderr
    assert "Traceback" not in out.stderr
