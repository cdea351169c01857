"""The CLI's prompter without SSH: OpenSSH's SSH_ASKPASS rules, and a real askpass program."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rdt_tui.transport.auth import AskpassPrompter, NoPrompt, OpenSshPrompter

CHOICE = (
    "import json, sys\n"
    "from rdt_tui.transport.auth import OpenSshPrompter\n"
    "print(json.dumps(OpenSshPrompter(json.loads(sys.argv[1])).choice()))\n"
)


def choice_without_terminal(env: dict[str, str]) -> str:
    """What the prompter picks in a process with no controlling terminal (a new session)."""
    out = subprocess.run(
        [sys.executable, "-c", CHOICE, json.dumps(env)],
        capture_output=True,
        text=True,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
        check=True,
    )
    return str(json.loads(out.stdout))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "none"),  # no terminal, no askpass
        ({"SSH_ASKPASS": "/bin/true"}, "none"),  # no display: OpenSSH does not run it
        ({"SSH_ASKPASS": "/bin/true", "DISPLAY": ":0"}, "askpass"),
        ({"SSH_ASKPASS": "/bin/true", "WAYLAND_DISPLAY": "wayland-0"}, "askpass"),
        ({"SSH_ASKPASS": "/bin/true", "SSH_ASKPASS_REQUIRE": "force"}, "askpass"),
        ({"SSH_ASKPASS": "/bin/true", "SSH_ASKPASS_REQUIRE": "FORCE"}, "askpass"),
        ({"SSH_ASKPASS": "/bin/true", "SSH_ASKPASS_REQUIRE": "prefer"}, "none"),
        ({"SSH_ASKPASS": "/bin/true", "SSH_ASKPASS_REQUIRE": "prefer", "DISPLAY": ":0"}, "askpass"),
        ({"SSH_ASKPASS": "/bin/true", "SSH_ASKPASS_REQUIRE": "never", "DISPLAY": ":0"}, "none"),
        ({"SSH_ASKPASS": "/bin/true", "DISPLAY": ""}, "none"),  # empty is unset
    ],
)
def test_askpass_rules_like_openssh_without_a_terminal(env: dict[str, str], expected: str) -> None:
    assert choice_without_terminal(env) == expected


def choice_on_a_terminal(env: dict[str, str]) -> str:
    """What the prompter picks in a process whose controlling terminal is a pseudo-terminal."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session of its own, the pty its controlling terminal
        try:
            os.execv(sys.executable, [sys.executable, "-c", CHOICE, json.dumps(env)])
        finally:
            os._exit(127)
    out = b""
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            if not select.select([fd], [], [], 1.0)[0]:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    return str(json.loads(out.decode().strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "terminal"),
        ({"SSH_ASKPASS": "/bin/true", "DISPLAY": ":0"}, "terminal"),  # a terminal comes first
        ({"SSH_ASKPASS": "/bin/true", "SSH_ASKPASS_REQUIRE": "prefer"}, "terminal"),
        ({"SSH_ASKPASS": "/bin/true", "SSH_ASKPASS_REQUIRE": "prefer", "DISPLAY": ":0"}, "askpass"),
        ({"SSH_ASKPASS": "/bin/true", "SSH_ASKPASS_REQUIRE": "force"}, "askpass"),
        ({"SSH_ASKPASS": "/bin/true", "SSH_ASKPASS_REQUIRE": "never", "DISPLAY": ":0"}, "terminal"),
    ],
)
def test_askpass_rules_like_openssh_on_a_terminal(env: dict[str, str], expected: str) -> None:
    assert choice_on_a_terminal(env) == expected


def test_no_way_to_ask_raises_with_the_reason() -> None:
    prompter = OpenSshPrompter({})
    if prompter.choice() != "none":
        pytest.skip("this test process has a terminal")
    with pytest.raises(NoPrompt, match="no terminal"):
        asyncio.run(prompter.ask("password: ", False))


def askpass_script(tmp_path: Path, body: str) -> str:
    path = os.path.join(tmp_path, "askpass")
    with open(path, "w") as fh:
        fh.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def test_askpass_gets_the_prompt_and_its_first_line_is_the_answer(tmp_path: Path) -> None:
    script = askpass_script(
        tmp_path, f'printf "%s" "$1" > {tmp_path}/prompt\nprintf "s3cret\\r\\nmore\\n"\n'
    )
    answer = asyncio.run(AskpassPrompter(script).ask("(u@h) Code: ", False))
    assert answer == "s3cret"
    with open(os.path.join(tmp_path, "prompt")) as fh:
        assert fh.read() == "(u@h) Code: "


def test_askpass_exiting_non_zero_is_a_cancel(tmp_path: Path) -> None:
    script = askpass_script(tmp_path, "echo typed-but-cancelled\nexit 1\n")
    assert asyncio.run(AskpassPrompter(script).ask("password: ", False)) is None


def test_an_askpass_nobody_answers_is_ended_and_a_cancel(tmp_path: Path) -> None:
    script = askpass_script(tmp_path, "exec sleep 60\n")
    assert asyncio.run(AskpassPrompter(script, timeout=0.5).ask("password: ", False)) is None


def test_an_askpass_that_does_not_run_is_no_prompt(tmp_path: Path) -> None:
    with pytest.raises(NoPrompt, match="does not run"):
        asyncio.run(AskpassPrompter(os.path.join(tmp_path, "missing")).ask("p: ", False))
