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
        # The arrows below are the ones DESIGN.md implies and nothing checked before: the
        # transport reads neither config (it is handed hops) nor the agent beyond its zipapp,
        # config reads pure core rules only, and the command line never the demo job.
        (
            "rdt_tui.transport.trust",
            [
                "rdt_tui.config",
                "rdt_tui.client",
                "rdt_tui.tui",
                "textual",
                "rdt_tui.agent.main",
                "rdt_tui.agent.daemon",
                "rdt_tui.agent.service",
            ],
        ),
        (
            "rdt_tui.config.profiles",
            ["rdt_tui.agent", "rdt_tui.client", "rdt_tui.transport", "rdt_tui.tui", "asyncssh"],
        ),
        (
            "rdt_tui.config.hosts",
            ["rdt_tui.agent", "rdt_tui.client", "rdt_tui.transport", "rdt_tui.tui", "asyncssh"],
        ),
        ("rdt_tui.cli", ["rdt_tui.demo", "rdt_tui.agent", "torch", "h5py"]),
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


# Which packages each package may import (DESIGN.md, "Direction of imports"), read from the
# source of every module (tests/test_import_graph.py), lazy imports included: the subprocess
# tests above see only what an import pulls in at once. ``config -> core``: config checks
# profiles and settings with the rules the agent applies (alert rules, metric formats, Slurm
# keys), which live in core because core is what the node has. ``transport -> agent``: only
# ``agent.build``, the zipapp the transport ships (PACKAGE_ARROWS' "agent.build").
PACKAGE_ARROWS: dict[str, set[str]] = {
    "protocol": set(),
    "core": {"protocol"},
    "launch": {"protocol", "core"},
    "agent": {"protocol", "core", "launch"},
    "transport": {"protocol", "agent.build"},
    "client": {"transport", "protocol", "core", "config", "launch"},
    "config": {"core", "launch", "protocol"},
    "tui": {"client", "config", "core", "launch", "protocol"},
    "cli": {"tui", "client", "transport", "config", "core", "launch", "protocol"},
    "demo": set(),
}

# Module arrows against the table that a branch in flight removes (none now: the demo's dataset
# check moved to config/demo.py, which runs the dataset maker as a child process).
PENDING_ARROWS: set[tuple[str, str]] = set()


def _package_of(module: str) -> str:
    """``rdt_tui.agent.build`` -> ``agent``; the package's own ``rdt_tui`` -> ``""``."""
    return module.split(".")[1] if module.count(".") else ""


def _allowed(src: str, dst: str) -> bool:
    a, b = _package_of(src), _package_of(dst)
    if a == b or b == "":  # within a package, or the root's (empty) __init__
        return True
    allowed = PACKAGE_ARROWS.get(a, set())
    return b in allowed or dst.removeprefix("rdt_tui.") in allowed


def test_every_import_follows_the_package_arrows() -> None:
    from .test_import_graph import import_graph

    graph = import_graph(os.path.join(REPO, "rdt_tui"))
    packages = {_package_of(m) for m in graph} - {""}
    assert packages <= set(PACKAGE_ARROWS), f"no arrows for {packages - set(PACKAGE_ARROWS)}"
    wrong = sorted(
        (src, dst)
        for src, deps in graph.items()
        for dst in deps
        if not _allowed(src, dst) and (src, dst) not in PENDING_ARROWS
    )
    assert wrong == [], "imports against DESIGN.md's arrows:\n" + "\n".join(
        f"{src} -> {dst}" for src, dst in wrong
    )
    stale = sorted(p for p in PENDING_ARROWS if p[1] not in graph.get(p[0], set()))
    assert stale == [], f"no longer imported (take them out of PENDING_ARROWS): {stale}"
