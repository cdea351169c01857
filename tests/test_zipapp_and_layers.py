"""The agent ships as one zipapp that runs without site-packages; imports follow DESIGN.md."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from rdt_tui.agent.build import compute_hash, write_zipapp

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code: str, *flags: str, python: str = sys.executable) -> str:
    out = subprocess.run(
        [python, *flags, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_zipapp_is_named_by_its_content_and_runs_isolated(workdir: str) -> None:
    path = write_zipapp(workdir)
    build = compute_hash()
    assert os.path.basename(path) == f"agent-{build}.pyz"
    assert write_zipapp(workdir) == path  # same content, same file: nothing to upload
    out = subprocess.run(
        [sys.executable, "-I", "-S", path, "version"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
    )
    assert out.returncode == 0, out.stderr
    assert f"build {build}" in out.stdout


def _oldest_python() -> str | None:
    """A Python 3.8 (the oldest a node may have), where this machine has one."""
    candidates = [
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.8*/bin/python3.8"))),
        "/usr/bin/python3.8",
        "/usr/local/bin/python3.8",
    ]
    for exe in candidates:
        if os.path.exists(exe) and subprocess.run([exe, "-c", "pass"]).returncode == 0:
            return exe
    return None


@pytest.mark.parametrize("python", ["3.8", "this"])
def test_zipapp_attach_serves_hello_and_a_run_on_the_nodes_python(
    python: str, workdir: str, state_dir: str
) -> None:
    exe = sys.executable if python == "this" else _oldest_python()
    if exe is None:
        pytest.skip("no Python 3.8 on this machine")
    path = write_zipapp(workdir)
    requests = (
        '{"id":"1","op":"hello","args":{}}\n'
        '{"id":"2","op":"launch","args":{"argv":["echo","loss=0.5"],"cwd":"/"}}\n'
    )
    proc = subprocess.Popen(
        [exe, "-I", "-S", path, "--state-dir", state_dir, "attach"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(requests)
    proc.stdin.flush()
    replies: dict[str, dict] = {}
    while len(replies) < 2:
        msg = json.loads(proc.stdout.readline())
        replies[msg["id"]] = msg
    proc.stdin.close()
    proc.wait(timeout=10)
    assert replies["1"]["ok"] and replies["1"]["result"]["build"] == compute_hash()
    version = subprocess.run(
        [exe, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True
    ).stdout.strip()
    assert replies["1"]["result"]["python"] == version
    assert replies["2"]["ok"], replies["2"]


def test_node_packages_import_only_the_standard_library() -> None:
    out = _python(
        """
        import sys
        before = set(sys.modules)
        import rdt_tui.agent.main, rdt_tui.agent.daemon, rdt_tui.agent.attach
        import rdt_tui.agent.service, rdt_tui.agent.shim, rdt_tui.core.metrics
        import rdt_tui.protocol.wire
        new = {m.split(".")[0] for m in set(sys.modules) - before}
        print(sorted(n for n in new if n not in sys.stdlib_module_names and n != "rdt_tui"))
    """,
        "-I",
    )
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        (
            "rdt_tui.core.metrics",
            [
                "rdt_tui.agent",
                "rdt_tui.client",
                "rdt_tui.transport",
                "rdt_tui.config",
                "rdt_tui.tui",
                "textual",
                "asyncssh",
            ],
        ),
        ("rdt_tui.protocol.wire", ["rdt_tui.core", "rdt_tui.agent", "rdt_tui.client"]),
        (
            "rdt_tui.agent.daemon",
            [
                "rdt_tui.client",
                "rdt_tui.transport",
                "rdt_tui.config",
                "rdt_tui.tui",
                "asyncssh",
                "textual",
            ],
        ),
        ("rdt_tui.client", ["rdt_tui.tui", "textual", "asyncssh", "torch", "accelerate"]),
        ("rdt_tui.tui.app", ["asyncssh", "torch", "accelerate", "rdt_tui.agent.daemon"]),
        ("rdt_tui.cli", ["torch", "accelerate", "asyncssh", "textual", "rdt_tui.demo.train"]),
    ],
)
def test_import_direction_follows_the_layers(module: str, forbidden: list[str]) -> None:
    out = _python(f"""
        import sys, importlib
        importlib.import_module({module!r})
        print("\\n".join(sorted(sys.modules)))
    """)
    loaded = set(out.split())
    bad = [m for m in loaded for f in forbidden if m == f or m.startswith(f + ".")]
    assert bad == [], f"{module} pulls in {bad}"


def test_node_packages_are_python_38_compatible() -> None:
    vermin = shutil.which("vermin") or os.path.join(os.path.dirname(sys.executable), "vermin")
    if not os.path.exists(vermin):
        pytest.skip("vermin is not installed")
    out = subprocess.run(
        [
            vermin,
            "--no-tips",
            "--violations",
            "-t=3.8-",
            "--eval-annotations",
            "--no-parse-comments",
            "rdt_tui/agent",
            "rdt_tui/core",
            "rdt_tui/protocol",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
