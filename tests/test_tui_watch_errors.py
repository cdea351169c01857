"""`rdt-tui watch` with a run or a host that does not exist, in a real terminal (tmux): a clear
error on the terminal and a non-zero exit, not a blank console that `q` leaves with 0."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from .test_e2e_tmux import tmux, wait_screen

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["localhost", "no-such-run-h16"], "no-such-run-h16"),
        (["no-such-host.invalid", "some-run"], "no-such-host.invalid"),
    ],
    ids=["bad-run", "bad-host"],
)
def test_watch_a_bad_run_or_host_says_why_and_exits_non_zero(
    state_dir: str, workdir: str, args: list[str], said: str
) -> None:
    sock = os.path.join(workdir, "tmux.sock")
    env = {
        "RDT_TUI_STATE_DIR": state_dir,
        "RDT_TUI_DATA_DIR": workdir,
        "RDT_TUI_CONFIG_DIR": os.path.join(workdir, "cfg"),
        "RDT_TUI_SSH_CONFIG": os.path.join(workdir, "ssh_config"),
    }
    open(env["RDT_TUI_SSH_CONFIG"], "w").close()
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    cmd = (
        f"{exports} {sys.executable} -m rdt_tui.cli watch {' '.join(args)}; echo EXIT=$?; sleep 600"
    )
    tmux(sock, "new-session", "-d", "-s", "rdt", "-x", "80", "-y", "24", cmd)
    try:
        screen = wait_screen(sock, "EXIT=", timeout=90)
    finally:
        tmux(sock, "kill-server")
    assert "EXIT=1" in screen, screen
    assert "rdt-tui: error:" in screen and said in screen, screen
    assert "Traceback" not in screen, screen
