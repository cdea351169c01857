"""Authentication in the console, against real OpenSSH: one modal question for every host
behind a jump that wants a password (hidden input, the other hosts carry on meanwhile), one
Esc for all of them, and the jump's connection kept across a node-side reconnect."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from .ssh_auth_env import (  # noqa: F401 - fixtures
    NODE_PYTHON,
    Env,
    accepted,
    assert_no_secret_in_files,
    env_factory_fixture,
    make_env,
    pw_lab_fixture,
)
from .sshd import LAB_MARKS, LAB_PASSWORD, SshLab

pytestmark = LAB_MARKS


# ----- (c) the console's modal ---------------------------------------------------------------
async def test_the_console_asks_once_in_a_modal_for_every_host_behind_the_jump(
    pw_lab: SshLab,
    env_factory: list[Env],
    state_dir: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from textual.widgets import DataTable, Input

    from rdt_tui.cli import hosts_console_app
    from rdt_tui.tui.screens.hosts_screen import HostsScreen
    from rdt_tui.tui.screens.runs_screen import RunsScreen
    from rdt_tui.tui.secret_prompt import SecretPrompt

    from .test_tui_dashboard import until

    env = make_env(pw_lab, hosts=["node2", "node3"])
    env_factory.append(env)
    # And the node straight, not through the jump: its connect must not wait for the modal.
    direct_known = os.path.join(env.home, "known_direct")
    with open(direct_known, "w") as fh:
        fh.write(f"[127.0.0.1]:{pw_lab.node.port} {pw_lab.keys['node']}\n")
    with open(env.ssh_config, "a") as fh:
        fh.write(
            f"\nHost direct\n  HostName 127.0.0.1\n  Port {pw_lab.node.port}\n"
            f"  User {pw_lab.user}\n  IdentityFile {pw_lab.client_key}\n"
            f"  UserKnownHostsFile {direct_known}\n"
        )
    with open(os.path.join(env.home, "cfg", "hosts.toml"), "a") as fh:
        fh.write(f'[[hosts]]\nname = "direct"\npython = "{NODE_PYTHON}"\n')
    # The agent is on the node already (one CLI check): the console's three hosts are the
    # same node, and this test is about asking, not about three uploads at once.
    deployed = env.cli("check-host", "node", SSH_ASKPASS=env.askpass(), SSH_ASKPASS_REQUIRE="force")
    assert deployed.returncode == 0, deployed.stderr
    for name, value in env.vars().items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)
    for name in ("SSH_AUTH_SOCK", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE", "DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RDT_TUI_STATE_DIR", state_dir)  # localhost's agent, for this test
    before = accepted(pw_lab, "password")

    app = hosts_console_app()
    asked: list[str] = []
    modal_ask = app.prompter.ask

    async def counted(prompt: str, echo: bool) -> str | None:
        asked.append(prompt)
        return await modal_ask(prompt, echo)

    app.prompter.ask = counted
    async with app.run_test(size=(120, 40)) as pilot:
        await until(
            lambda: isinstance(app.screen, SecretPrompt) and bool(app.screen.query_one(Input)),
            timeout=60,
        )
        modal = app.screen
        assert isinstance(modal, SecretPrompt)
        assert modal.question == f"{pw_lab.user}@127.0.0.1's password: "
        field = modal.query_one(Input)
        assert field.password  # hidden input
        hosts = app.screen_stack[-2]
        assert isinstance(hosts, HostsScreen)
        # While the question waits, the other hosts go on: this machine's check finishes,
        # and so does the node's over SSH without the jump.
        await until(lambda: hosts.status.get("localhost") == "reachable", timeout=60)
        await until(lambda: hosts.status.get("direct") == "reachable", timeout=60)
        assert app.screen is modal
        field.value = LAB_PASSWORD
        await pilot.press("enter")
        assert field.value == ""  # the answer is taken out of the widget, kept nowhere
        await until(
            lambda: (
                len(asked) > 1
                or all(hosts.status.get(h) == "reachable" for h in ("node", "node2", "node3"))
            ),
            timeout=90,
        )
        assert asked == [f"{pw_lab.user}@127.0.0.1's password: "]
        # A third screen on one of them: a new channel on the same connection, no question.
        table = hosts.query_one(DataTable)
        table.move_cursor(row=table.get_row_index("node2"))
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, RunsScreen), timeout=30)
        await until(lambda: hosts.status.get("jump") == "reachable", timeout=90)
        assert asked == [f"{pw_lab.user}@127.0.0.1's password: "]
        assert accepted(pw_lab, "password") == before + 1
    # Leaving the console ends the shared connection: the jump holds no session of ours.
    deadline = time.monotonic() + 60
    while pw_lab.jump.session_pids() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pw_lab.jump.session_pids() == []
    assert_no_secret_in_files(env, LAB_PASSWORD)


async def test_a_cancelled_question_fails_every_host_behind_the_jump_without_asking_again(
    pw_lab: SshLab,
    env_factory: list[Env],
    state_dir: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from textual.widgets import Input

    from rdt_tui.cli import hosts_console_app
    from rdt_tui.tui.screens.hosts_screen import HostsScreen
    from rdt_tui.tui.secret_prompt import SecretPrompt

    from .test_tui_dashboard import until

    env = make_env(pw_lab, hosts=["node2"])
    env_factory.append(env)
    for name, value in env.vars().items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)
    for name in ("SSH_AUTH_SOCK", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE", "DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RDT_TUI_STATE_DIR", state_dir)
    app = hosts_console_app()
    asked: list[str] = []
    modal_ask = app.prompter.ask

    async def counted(prompt: str, echo: bool) -> str | None:
        asked.append(prompt)
        return await modal_ask(prompt, echo)

    app.prompter.ask = counted
    behind = ("jump", "node", "node2")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(
            lambda: isinstance(app.screen, SecretPrompt) and bool(app.screen.query_one(Input)),
            timeout=60,
        )
        hosts = app.screen_stack[-2]
        assert isinstance(hosts, HostsScreen)
        field = app.screen.query_one(Input)
        field.value = "half-typed"
        await pilot.press("escape")
        assert field.value == ""  # what was typed goes with the cancel
        # One Esc is the answer for every host that waited on that question.
        await until(
            lambda: (
                len(asked) > 1
                or all(hosts.status.get(h, "").startswith("Authentication") for h in behind)
            ),
            timeout=60,
        )
        assert len(asked) == 1
        assert not isinstance(app.screen, SecretPrompt)


# ----- the shared connection across a reconnect ----------------------------------------------
class Answers:
    """A prompter that answers from a script, for the transport alone (the real prompters are
    tested above: askpass, the terminal, the console's modal)."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.asked: list[str] = []

    async def ask(self, prompt: str, echo: bool) -> str | None:
        self.asked.append(prompt)
        return self.answer


@pytest.mark.parametrize("linger", [120.0, 0.0], ids=["console-or-cli-run", "no-linger"])
async def test_a_node_reconnect_keeps_the_jumps_connection_and_asks_nothing(
    pw_lab: SshLab, env_factory: list[Env], linger: float
) -> None:
    from rdt_tui.client import AgentClient
    from rdt_tui.config.hosts import HostBook
    from rdt_tui.config.sshconfig import load_ssh_config
    from rdt_tui.transport.session import SshSession
    from rdt_tui.transport.ssh import SshTransport

    env = make_env(pw_lab)
    env_factory.append(env)
    answers = Answers(LAB_PASSWORD)
    session = SshSession(answers, linger_s=linger)
    hops = HostBook(load_ssh_config(pw_lab.ssh_config), []).chain("node")
    transport = SshTransport(
        "node", hops, python=NODE_PYTHON, state_dir=env.node_state, session=session
    )
    client = AgentClient(transport, reconnect=True)
    try:
        await client.connect()
        assert len(answers.asked) == 1
        jump_sessions = set(pw_lab.jump.session_pids())
        for pid in pw_lab.node.session_pids():  # the node's side drops; the jump stays up
            os.kill(pid, signal.SIGKILL)
        for _ in range(400):
            if client.reconnects and client.state == "connected":
                break
            await asyncio.sleep(0.05)
        assert client.reconnects == 1 and client.state == "connected"
        assert await client.runs() is not None
        if linger:
            assert len(answers.asked) == 1  # the jump's connection was taken again
            assert set(pw_lab.jump.session_pids()) == jump_sessions
        else:
            assert len(answers.asked) == 2  # nothing kept it: the jump asked again
    finally:
        await client.close()
        session.close()
