"""The world of the authentication tests: a lab whose jump wants a password or a code, the
CLI's environment per test (its dirs scanned afterwards for leaked answers), an askpass
program that records what it was asked, and an encrypted key."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .sshd import LAB_PASSWORD, NODE_NAME, NODE_PYTHON, SshLab, remove_lab, set_password, start_lab

PASSPHRASE = "key phrase 93!"


@pytest.fixture(scope="module", name="pw_lab")
def pw_lab_fixture() -> Iterator[SshLab]:
    """A lab whose jump wants a key and the user's password."""
    lab = start_lab(jump_auth="publickey,password")
    yield lab
    remove_lab(lab)
    set_password(None)


@pytest.fixture(name="env_factory")
def env_factory_fixture() -> Iterator[list[Env]]:
    """The tests' :class:`Env` s, appended by the test, removed after it."""
    made: list[Env] = []
    yield made
    for env in made:
        remove_env(env)


@dataclass
class Env:
    """The CLI's world for one test: its config, state and XDG dirs under ``home`` (scanned
    for leaked answers afterwards), and an askpass program kept outside it."""

    lab: SshLab
    home: str
    askpass_dir: str
    node_state: str

    @property
    def asked(self) -> list[str]:
        path = os.path.join(self.askpass_dir, "asked")
        if not os.path.exists(path):
            return []
        with open(path) as fh:
            return [line for line in fh.read().split("\0") if line]

    def answers(self, password: str, passphrase: str = PASSPHRASE) -> None:
        for name, value in (("password", password), ("passphrase", passphrase)):
            with open(os.path.join(self.askpass_dir, name), "w") as fh:
                fh.write(value)

    def vars(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_AUTH_SOCK", "SSH_ASKPASS")
            and not k.startswith("SSH_ASKPASS")
        }
        env.update(
            RDT_TUI_SSH_CONFIG=self.ssh_config,
            RDT_TUI_CONFIG_DIR=os.path.join(self.home, "cfg"),
            RDT_TUI_STATE_DIR=os.path.join(self.home, "local-state"),
            XDG_CONFIG_HOME=os.path.join(self.home, "xdg-config"),
            XDG_STATE_HOME=os.path.join(self.home, "xdg-state"),
            XDG_CACHE_HOME=os.path.join(self.home, "xdg-cache"),
            XDG_DATA_HOME=os.path.join(self.home, "xdg-data"),
        )
        env.update(extra)
        return env

    @property
    def ssh_config(self) -> str:
        return os.path.join(self.home, "ssh_config")

    def cli(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """The real CLI with no terminal at all (a new session: /dev/tty cannot open)."""
        return subprocess.run(
            [sys.executable, "-m", "rdt_tui.cli", *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            timeout=90,
            env=self.vars(**extra),
        )

    def askpass(self) -> str:
        return os.path.join(self.askpass_dir, "askpass")


ASKPASS = """#!/bin/sh
# Records each prompt, answers the password or the passphrase it is asked for.
printf '%s\\0' "$1" >> {dir}/asked
case "$1" in
  *assphrase*) cat {dir}/passphrase ;;
  *) cat {dir}/password ;;
esac
echo
"""


def make_env(lab: SshLab, hosts: list[str] | None = None, identity: str | None = None) -> Env:
    home = tempfile.mkdtemp(prefix="rdt-auth-", dir="/tmp")
    askpass_dir = tempfile.mkdtemp(prefix="rdt-askpass-", dir="/tmp")
    env = Env(lab, home, askpass_dir, f"/tmp/rdt-node-{uuid.uuid4().hex[:8]}")
    with open(env.askpass(), "w") as fh:
        fh.write(ASKPASS.format(dir=askpass_dir))
    os.chmod(env.askpass(), 0o755)
    env.answers(LAB_PASSWORD)
    with open(lab.ssh_config) as fh:
        config = fh.read()
    if identity:
        config = config.replace(lab.client_key, identity)
    for name in hosts or []:  # more aliases of the node, behind the same jump
        config += (
            f"\nHost {name}\n  HostName {NODE_NAME}\n  Port {lab.node.port}\n  User {lab.user}\n"
            f"  IdentityFile {identity or lab.client_key}\n  UserKnownHostsFile {lab.known_hosts}\n"
            "  ProxyJump jump\n"
        )
    with open(env.ssh_config, "w") as fh:
        fh.write(config)
    cfg = os.path.join(home, "cfg")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "hosts.toml"), "w") as fh:
        for name in ["node", *(hosts or [])]:
            fh.write(
                f'[[hosts]]\nname = "{name}"\npython = "{NODE_PYTHON}"\n'
                f'state_dir = "{env.node_state}"\n\n'
            )
    return env


def remove_env(env: Env) -> None:
    shutil.rmtree(env.home, ignore_errors=True)
    shutil.rmtree(env.askpass_dir, ignore_errors=True)
    shutil.rmtree(env.node_state, ignore_errors=True)


@contextlib.contextmanager
def jump_config(lab: SshLab, extra: str) -> Iterator[None]:
    """The jump restarted with ``extra`` lines in its sshd_config, and back after."""
    with open(lab.jump.config) as fh:
        config = fh.read()
    lab.jump.stop()
    with open(lab.jump.config, "a") as fh:
        fh.write(extra)
    lab.jump.start()
    try:
        yield
    finally:
        lab.jump.stop()
        with open(lab.jump.config, "w") as fh:
            fh.write(config)
        lab.jump.start()


def accepted(lab: SshLab, what: str) -> int:
    with open(lab.jump.log) as fh:
        return fh.read().count(f"Accepted {what} for {lab.user}")


def assert_no_secret_in_files(env: Env, *secrets: str) -> None:
    """No answer in any file the CLI, the console or the node's agent wrote."""
    home = env.lab.home
    roots = [
        env.home,
        env.node_state,
        os.path.join(home, ".cache", "rdt-tui"),
        os.path.join(home, ".local", "state"),
    ]
    scanned = 0
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as fh:
                    data = fh.read()
                scanned += 1
                for secret in secrets:
                    assert secret.encode() not in data, f"{secret!r} written to {path}"
    assert scanned, "nothing was scanned: the check would prove nothing"


def encrypted_key(lab: SshLab, keep_pub: bool) -> str:
    path = os.path.join(lab.root, f"enc_key_{uuid.uuid4().hex[:6]}")
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", PASSPHRASE, "-C", "enc", "-f", path],
        check=True,
    )
    with open(path + ".pub") as fh:
        pub = fh.read()
    with open(os.path.join(lab.root, "authorized_keys"), "a") as fh:
        fh.write(pub)
    if not keep_pub:
        os.unlink(path + ".pub")
    return path
