"""End to end in a real terminal: tmux runs `rdt-tui demo`, the loss shows, `q` leaves the run
alive, and `rdt-tui demo` again comes back to the same run."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="no training extra"),
]


def tmux(sock: str, *args: str) -> str:
    out = subprocess.run(["tmux", "-S", sock, *args], capture_output=True, text=True, timeout=30)
    return out.stdout


def runs_json(env: dict[str, str]) -> list[dict[str, Any]]:
    """What `rdt-tui runs localhost --json` says, as a user would ask it."""
    out = subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", "runs", "localhost", "--json"],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=60,
    )
    return list(json.loads(out.stdout))


def wait_screen(sock: str, needle: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux(sock, "capture-pane", "-p", "-t", "rdt")
        if needle in screen:
            return screen
        time.sleep(0.5)
    raise AssertionError(f"{needle!r} never showed; the screen was:\n{screen}")


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_demo_in_tmux_quit_keeps_the_run_and_demo_comes_back(
    state_dir: str, workdir: str, size: tuple[int, int]
) -> None:
    sock = os.path.join(workdir, "tmux.sock")
    env = {
        "RDT_TUI_STATE_DIR": state_dir,
        "RDT_TUI_DATA_DIR": workdir,
        "RDT_TUI_CONFIG_DIR": os.path.join(workdir, "cfg"),
    }
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    # Without COLUMNS/LINES (pytest's environment has COLUMNS=80): the terminal's own size.
    cmd = (
        f"env -u COLUMNS -u LINES {exports} {sys.executable} -m rdt_tui.cli demo --steps 2000 "
        "--step-delay 0.05; sleep 600"
    )
    tmux(sock, "new-session", "-d", "-s", "rdt", "-x", str(size[0]), "-y", str(size[1]), cmd)
    # Some tmux versions size a window without a client 80x24 whatever -x/-y say.
    tmux(sock, "resize-window", "-t", "rdt", "-x", str(size[0]), "-y", str(size[1]))
    shown = tmux(sock, "display-message", "-p", "-t", "rdt", "#{window_width}x#{window_height}")
    assert shown.strip() == f"{size[0]}x{size[1]}"
    try:
        wait_screen(sock, "effective batch = 2 processes x 32 per GPU")
        tmux(sock, "send-keys", "-t", "rdt", "l")
        wait_screen(sock, "Launch on localhost?")
        tmux(sock, "send-keys", "-t", "rdt", "y")
        wait_screen(sock, "loss (1/")  # the chart titled with its first metric
        # the full status line at 120 columns, the compact one (no "step" word) at 80
        wait_screen(sock, "running  step " if size[0] >= 100 else "link connected")
        wait_screen(sock, "Steps:")  # the tqdm bar in the log tail
        tmux(sock, "send-keys", "-t", "rdt", "q")
        time.sleep(2)
        runs = runs_json(env)
        live = [r for r in runs if r["status"] == "running"]
        assert len(live) == 1 and live[0]["name"] == "demo"
        tmux(sock, "respawn-pane", "-k", "-t", "rdt", cmd)
        wait_screen(sock, live[0]["id"])
        runs = runs_json(env)
        assert len(runs) == 1  # the second `rdt-tui demo` came back to the same run
    finally:
        tmux(sock, "kill-server")
