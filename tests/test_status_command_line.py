"""`rdt-tui status HOST RUN` shows the run's command line as `rdt-tui runs` does: quoted as a
shell would take it back, one line even when an argument holds a newline (`python -c` code),
rather than the arguments joined with spaces (`python3 -c import time` + a line break)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE = "import sys\nprint('a b')"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    # RDT_TUI_STATE_DIR is the test's own (conftest): its own daemon, stopped after the test.
    return subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def test_status_quotes_the_command_like_runs() -> None:
    out = cli("launch", "localhost", "--json", "--", sys.executable, "-c", CODE)
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout)["run"]
    status = cli("status", "localhost", run)
    assert status.returncode == 0, status.stderr
    line = next(x for x in status.stdout.splitlines() if x.startswith("command  "))
    quoted = "'import sys\\nprint('\"'\"'a b'\"'\"')'"  # what shlex.quote gives, \n escaped
    assert line == f"command  {shlex.quote(sys.executable)} -c {quoted}"
    listed = cli("runs", "localhost")
    assert line[len("command  ") :] in listed.stdout  # the same words in both
