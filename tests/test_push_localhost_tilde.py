"""`rdt-tui push localhost LOCAL '~/x'` (the tilde quoted, as it must be for a remote host's
home) copies into the home's x, as over SSH; the old code made a folder literally named `~`
in the current directory (one `rm -rf ~` away from a disaster). A relative REMOTE on
localhost stays the current directory's, and `pull` reads `~/x` the same way."""

from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(cwd: str, home: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=dict(
            os.environ, HOME=home, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", "")
        ),
    )


def test_tilde_is_the_home_on_localhost(tmp_path: object) -> None:
    root = str(tmp_path)
    home, here, src = (os.path.join(root, d) for d in ("home", "here", "src"))
    for d in (home, here, src):
        os.makedirs(d)
    with open(os.path.join(src, "a.txt"), "w") as fh:
        fh.write("hi\n")
    pushed = cli(here, home, "push", "localhost", src, "~/data")
    assert pushed.returncode == 0, pushed.stderr
    with open(os.path.join(home, "data", "a.txt")) as fh:
        assert fh.read() == "hi\n"
    assert os.listdir(here) == []  # no folder named `~` where the command ran
    pulled = cli(here, home, "pull", "localhost", "~/data", "back")
    assert pulled.returncode == 0, pulled.stderr
    assert os.listdir(os.path.join(here, "back")) == ["a.txt"]
    relative = cli(here, home, "push", "localhost", src, "rel")
    assert relative.returncode == 0, relative.stderr
    assert os.path.exists(os.path.join(here, "rel", "a.txt"))
