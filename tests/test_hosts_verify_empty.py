"""`rdt-tui hosts --verify` with no host anywhere (a new user's machine): it says there was
nothing to verify, rather than print nothing and exit 0 as if every route had been checked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs OpenSSH's ssh (openssh-client)")
def test_verify_with_no_hosts_says_so(tmp_path: object) -> None:
    empty = os.path.join(str(tmp_path), "ssh_config")
    open(empty, "w").close()
    env = dict(os.environ, RDT_TUI_SSH_CONFIG=empty, RDT_TUI_SSH_SYSTEM_CONFIG=empty)
    out = subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", "hosts", "--verify"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=str(tmp_path),  # no configs/hosts.toml here; the user config dir is the test's own
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("no hosts to verify"), out.stdout
