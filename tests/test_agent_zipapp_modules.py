"""The modules split out of the node's packages (issue 12) ship in the zipapp and import there
without site-packages, on the oldest Python a node may have where this machine has one."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from rdt_tui.agent.build import write_zipapp

from .test_zipapp_and_layers import _oldest_python

NEW = [
    "rdt_tui.agent.ops",
    "rdt_tui.agent.subscription",
    "rdt_tui.agent.runspec",
    "rdt_tui.core.points",
    "rdt_tui.core.metricsyntax",
    "rdt_tui.agent.metricstate",
    "rdt_tui.core.checks",
    "rdt_tui.core.preflight_data",
]


@pytest.mark.parametrize("python", ["3.8", "this"])
def test_the_split_modules_ship_and_import_in_the_zipapp(python: str, workdir: str) -> None:
    exe = sys.executable if python == "this" else _oldest_python()
    if exe is None:
        pytest.skip("no Python 3.8 on this machine")
    path = write_zipapp(workdir)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
    assert {m.replace(".", "/") + ".py" for m in NEW} <= names
    code = f"import sys; sys.path.insert(0, {path!r}); import " + ", ".join(NEW)
    code += "; import rdt_tui.core.preflight, rdt_tui.agent.daemon; print('ok')"
    out = subprocess.run(
        [exe, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60, cwd="/"
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
