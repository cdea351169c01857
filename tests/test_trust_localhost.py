"""`rdt-tui trust localhost`: localhost is this machine, reached without SSH (README), so there
is no host key to show or trust; said at once, instead of an SSH connection to port 22 that
fails (or, where an sshd listens, a key of a connection rdt-tui never makes)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_trust_localhost_says_there_is_no_key(host: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", "trust", host],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert out.returncode == 1
    assert f"{host} is this machine, reached without SSH" in out.stderr
    assert "hint: trust a host of ~/.ssh/config" in out.stderr
    assert "Traceback" not in out.stderr
    assert out.stdout == ""  # no fingerprint, no question
