"""Authentication as on real clusters, against real OpenSSH, from the CLI: a jump that wants
a key AND a password (or a keyboard-interactive code), asked through SSH_ASKPASS with no
terminal and on a terminal (tmux); an encrypted key's passphrase; keys from ssh-agent;
CertificateFile. No answer ends up in a file or a log."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from .ssh_auth_env import (  # noqa: F401 - fixtures
    PASSPHRASE,
    Env,
    accepted,
    assert_no_secret_in_files,
    encrypted_key,
    env_factory_fixture,
    jump_config,
    make_env,
    pw_lab_fixture,
)
from .sshd import LAB_MARKS, LAB_PASSWORD, SshLab, remove_lab, set_password, start_lab

pytestmark = LAB_MARKS


@pytest.fixture(scope="module")
def kbd_lab() -> Iterator[SshLab]:
    lab = start_lab(jump_auth="publickey,keyboard-interactive")
    yield lab
    remove_lab(lab)
    set_password(None)


# ----- (a) SSH_ASKPASS with no terminal -----------------------------------------------------
def test_askpass_forced_without_a_terminal_answers_the_jumps_password(
    pw_lab: SshLab, env_factory: list[Env]
) -> None:
    env = make_env(pw_lab)
    env_factory.append(env)
    before = accepted(pw_lab, "password")
    ok = env.cli("check-host", "node", SSH_ASKPASS=env.askpass(), SSH_ASKPASS_REQUIRE="force")
    assert ok.returncode == 0, ok.stderr
    assert "node: reachable" in ok.stdout
    # Asked once, in OpenSSH's words, for the jump's password (the node takes the key alone).
    assert env.asked == [f"{pw_lab.user}@127.0.0.1's password: "]
    assert accepted(pw_lab, "password") == before + 1
    assert LAB_PASSWORD not in ok.stdout + ok.stderr
    assert_no_secret_in_files(env, LAB_PASSWORD)


def test_a_wrong_password_is_a_clear_refusal_after_three_tries(
    pw_lab: SshLab, env_factory: list[Env]
) -> None:
    env = make_env(pw_lab)
    env_factory.append(env)
    env.answers("not the password")
    started = time.monotonic()
    refused = env.cli("check-host", "node", SSH_ASKPASS=env.askpass(), SSH_ASKPASS_REQUIRE="force")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert time.monotonic() - started < 60  # a refusal, not a hang (the CLI's bound is 90 s)
    err = refused.stderr
    assert "Authentication refused" in err and "jump host jump" in err, err
    assert "methods offered: publickey; then password" in err, err
    assert "password answer was refused" in err, err
    assert len(env.asked) == 3  # OpenSSH's NumberOfPasswordPrompts, then it stops
    assert "not the password" not in err + refused.stdout


def test_no_terminal_and_no_askpass_names_what_to_do(
    pw_lab: SshLab, env_factory: list[Env]
) -> None:
    env = make_env(pw_lab)
    env_factory.append(env)
    # SSH_ASKPASS set, but no DISPLAY and no SSH_ASKPASS_REQUIRE: OpenSSH would not run it.
    refused = env.cli("check-host", "node", SSH_ASKPASS=env.askpass())
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert env.asked == []
    assert "jump host jump" in refused.stderr and "no terminal" in refused.stderr
    assert "SSH_ASKPASS_REQUIRE=force" in refused.stderr
    # With a display, `prefer` runs it.
    ok = env.cli(
        "check-host",
        "node",
        SSH_ASKPASS=env.askpass(),
        SSH_ASKPASS_REQUIRE="prefer",
        DISPLAY=":99",
    )
    assert ok.returncode == 0, ok.stderr
    assert len(env.asked) == 1


def test_keyboard_interactive_code_on_the_jump_through_askpass(
    kbd_lab: SshLab, env_factory: list[Env]
) -> None:
    env = make_env(kbd_lab)
    env_factory.append(env)
    ok = env.cli("check-host", "node", SSH_ASKPASS=env.askpass(), SSH_ASKPASS_REQUIRE="force")
    assert ok.returncode == 0, ok.stderr
    # PAM's question, prefixed with who asks, as OpenSSH shows it.
    assert env.asked == [f"({kbd_lab.user}@127.0.0.1) Password: "]
    assert accepted(kbd_lab, "keyboard-interactive/pam") == 1
    env.answers("000000")
    refused = env.cli("check-host", "node", SSH_ASKPASS=env.askpass(), SSH_ASKPASS_REQUIRE="force")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "publickey; then keyboard-interactive" in refused.stderr, refused.stderr
    assert "keyboard-interactive answer was refused" in refused.stderr
    assert_no_secret_in_files(env, LAB_PASSWORD)


# ----- (d) an encrypted key ------------------------------------------------------------------
@pytest.mark.parametrize("keep_pub", [True, False], ids=["with-pub", "without-pub"])
def test_an_encrypted_key_asks_its_passphrase_once_for_both_hops(
    pw_lab: SshLab, env_factory: list[Env], keep_pub: bool
) -> None:
    key = encrypted_key(pw_lab, keep_pub)
    env = make_env(pw_lab, identity=key)
    env_factory.append(env)
    ok = env.cli("check-host", "node", SSH_ASKPASS=env.askpass(), SSH_ASKPASS_REQUIRE="force")
    assert ok.returncode == 0, ok.stderr
    phrase_prompts = [p for p in env.asked if "passphrase" in p]
    # The jump and the node both take this key: its passphrase is asked once.
    assert phrase_prompts == [f"Enter passphrase for key '{key}': "], env.asked
    assert [p for p in env.asked if "password" in p] == [f"{pw_lab.user}@127.0.0.1's password: "]
    # A wrong passphrase: three tries, then the key is not used, and the refusal says so.
    env.answers(LAB_PASSWORD, passphrase="wrong phrase")
    refused = env.cli("check-host", "node", SSH_ASKPASS=env.askpass(), SSH_ASKPASS_REQUIRE="force")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "jump host jump" in refused.stderr
    assert f"{key} (wrong passphrase, 3 tries)" in refused.stderr, refused.stderr
    assert "ssh-add KEY" in refused.stderr
    assert len([p for p in env.asked if "assphrase" in p]) == 1 + 3
    assert_no_secret_in_files(env, LAB_PASSWORD, PASSPHRASE)


# ----- (b) a terminal prompt -----------------------------------------------------------------
def tmux(sock: str, *args: str) -> str:
    out = subprocess.run(["tmux", "-S", sock, *args], capture_output=True, text=True, timeout=30)
    return out.stdout


def wait_pane(sock: str, needle: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux(sock, "capture-pane", "-p", "-t", "auth")
        if needle in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never showed; the pane was:\n{screen}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_password_is_asked_on_the_terminal_without_echo(
    pw_lab: SshLab, env_factory: list[Env]
) -> None:
    env = make_env(pw_lab)
    env_factory.append(env)
    sock = os.path.join(env.askpass_dir, "tmux.sock")
    vars_ = env.vars()
    command = shlex.join(["env", "-i", *(f"{k}={v}" for k, v in vars_.items())])
    command += f" {shlex.quote(sys.executable)} -m rdt_tui.cli check-host node"
    command += "; echo EXIT=$?; sleep 60"
    # The jump's banner says where the code comes from; a hostile one carries an escape.
    banner = os.path.join(env.home, "banner")
    with open(banner, "w") as fh:
        fh.write("Codes come from the lab token.\x1b[2J\n")
    with jump_config(pw_lab, f"Banner {banner}\n"):
        tmux(sock, "new-session", "-d", "-s", "auth", "-x", "120", "-y", "30", command)
        try:
            # The pane drops trailing blanks.
            screen = wait_pane(sock, f"{pw_lab.user}@127.0.0.1's password:")
            # Shown, with the escape made harmless (a raw one would have cleared the pane).
            assert "Codes come from the lab token.?[2J" in screen, screen
            tmux(sock, "send-keys", "-t", "auth", "-l", LAB_PASSWORD)
            tmux(sock, "send-keys", "-t", "auth", "Enter")
            screen = wait_pane(sock, "EXIT=")
            assert "EXIT=0" in screen and "node: reachable" in screen, screen
            assert LAB_PASSWORD not in screen  # echo was off
        finally:
            tmux(sock, "kill-server")
    assert env.asked == []  # the terminal, not the askpass program
    assert_no_secret_in_files(env, LAB_PASSWORD)


def test_a_jump_that_hangs_up_after_too_many_tries_is_named(
    pw_lab: SshLab, env_factory: list[Env]
) -> None:
    env = make_env(pw_lab)
    env_factory.append(env)
    env.answers("not the password")
    with jump_config(pw_lab, "MaxAuthTries 2\n"):
        refused = env.cli(
            "check-host", "node", SSH_ASKPASS=env.askpass(), SSH_ASKPASS_REQUIRE="force"
        )
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    err = refused.stderr
    assert "Authentication refused" in err and "jump host jump" in err, err
    assert "Too many authentication failures" in err and "password answer was refused" in err


# ----- keys from the ssh-agent, certificates ---------------------------------------------------
def test_a_key_held_by_ssh_agent_is_used_without_asking_its_passphrase(
    pw_lab: SshLab, env_factory: list[Env]
) -> None:
    key = encrypted_key(pw_lab, keep_pub=True)
    env = make_env(pw_lab, identity=key)
    env_factory.append(env)
    sock = os.path.join(env.askpass_dir, "agent.sock")
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        # ssh-add asks through the same askpass program: that one prompt is ssh-add's.
        added = subprocess.run(
            ["ssh-add", key],
            env=env.vars(
                SSH_AUTH_SOCK=sock, SSH_ASKPASS=env.askpass(), SSH_ASKPASS_REQUIRE="force"
            ),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            timeout=30,
        )
        assert added.returncode == 0, added.stderr
        os.unlink(os.path.join(env.askpass_dir, "asked"))
        ok = env.cli(
            "check-host",
            "node",
            SSH_AUTH_SOCK=sock,
            SSH_ASKPASS=env.askpass(),
            SSH_ASKPASS_REQUIRE="force",
        )
    finally:
        agent.terminate()
        agent.wait(10)
    assert ok.returncode == 0, ok.stderr
    # The agent signed for the key: only the jump's password was asked.
    assert env.asked == [f"{pw_lab.user}@127.0.0.1's password: "]


def test_certificate_file_is_offered_with_its_key(pw_lab: SshLab, env_factory: list[Env]) -> None:
    ca = os.path.join(pw_lab.root, f"user_ca_{uuid.uuid4().hex[:6]}")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ca], check=True)
    with open(ca + ".pub") as fh:
        ca_pub = fh.read().strip()
    with open(os.path.join(pw_lab.root, "authorized_keys"), "a") as fh:
        fh.write(f"cert-authority {ca_pub}\n")
    # A key no authorized_keys line names: only its certificate gets it in.
    key = os.path.join(pw_lab.root, f"cert_user_{uuid.uuid4().hex[:6]}")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    subprocess.run(
        [
            "ssh-keygen",
            "-q",
            "-s",
            ca,
            "-I",
            "rdt-test",
            "-n",
            pw_lab.user,
            "-V",
            "+1h",
            key + ".pub",
        ],
        check=True,
    )
    cert = os.path.join(pw_lab.root, f"elsewhere-{uuid.uuid4().hex[:6]}.pub")
    os.rename(key + "-cert.pub", cert)  # not beside the key: only CertificateFile finds it
    env = make_env(pw_lab, identity=key)
    env_factory.append(env)
    ask = {"SSH_ASKPASS": env.askpass(), "SSH_ASKPASS_REQUIRE": "force"}
    refused = env.cli("check-host", "node", **ask)
    assert refused.returncode != 0 and "jump host jump" in refused.stderr, refused.stderr
    with open(env.ssh_config) as fh:
        config = fh.read()
    with open(env.ssh_config, "w") as fh:
        fh.write(
            config.replace(
                f"  IdentityFile {key}\n", f"  IdentityFile {key}\n  CertificateFile {cert}\n"
            )
        )
    ok = env.cli("check-host", "node", **ask)
    assert ok.returncode == 0, ok.stderr
    for server in (pw_lab.jump, pw_lab.node):
        with open(server.log) as fh:
            assert 'Accepted certificate ID "rdt-test"' in fh.read()


def test_trust_logs_into_the_password_jump_to_reach_the_node(
    pw_lab: SshLab, env_factory: list[Env]
) -> None:
    env = make_env(pw_lab)
    env_factory.append(env)
    os.unlink(pw_lab.known_hosts)
    try:
        trusted = env.cli(
            "trust", "node", "--yes", SSH_ASKPASS=env.askpass(), SSH_ASKPASS_REQUIRE="force"
        )
        assert trusted.returncode == 0, trusted.stderr
        assert trusted.stdout.count("added to known_hosts") == 2
        assert env.asked == [f"{pw_lab.user}@127.0.0.1's password: "]
    finally:
        pw_lab.trust_both()
