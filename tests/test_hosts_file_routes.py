"""hosts.toml entries on top of the ssh config: the same hop rules as OpenSSH's ProxyJump,
and an entry that shares an ssh alias's name keeps that alias's route and expanded keys."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from rdt_tui.config.hosts import HostBook, HostsError, parse_hosts_text
from rdt_tui.config.sshconfig import load_ssh_config

SSH = """\
Host a
    HostName a.example.org
    ProxyJump a0
Host a0
    HostName a0.example.org
Host b
    HostName b.example.org
    User ub
    ProxyJump b0
Host node
    HostName node.internal
    User nodeuser
    IdentityFile ~/.ssh/%r@%h
    ProxyJump b
Host relay
    HostName relay.internal
    ProxyCommand socat - TCP:%h:%p
"""

HOSTS = """\
[[hosts]]
name = "chained"
hostname = "10.0.0.9"
jump = ["a", "b"]

[[hosts]]
name = "node"
python = "/opt/env/bin/python"

[[hosts]]
name = "node-own-jump"
hostname = "node.internal"
jump = "a0"

[[hosts]]
name = "relay"
state_dir = "/scratch/rdt"

[[hosts]]
name = "via-entry"
hostname = "10.0.0.10"
jump = ["chained"]
"""


@pytest.fixture
def book(tmp_path: Path) -> HostBook:
    config = tmp_path / "config"
    config.write_text(SSH)
    return HostBook(load_ssh_config(str(config)), parse_hosts_text(HOSTS, "hosts.toml"))


def labels(book: HostBook, name: str) -> list[str]:
    return [hop.label for hop in book.chain(name)]


def test_a_hosts_file_jump_list_follows_openssh_hop_rules(book: HostBook) -> None:
    # jump = ["a", "b"] is ProxyJump a,b: a follows its own ProxyJump (a0), b not its (b0).
    assert labels(book, "chained") == ["a0", "a", "b", "chained"]
    assert book.chain("chained")[2].user == "ub"
    # An entry's own jump is a single hop that follows its own jumps.
    assert labels(book, "via-entry") == ["a0", "a", "b", "chained", "via-entry"]


def test_an_entry_named_like_an_ssh_alias_keeps_its_route_and_keys(book: HostBook) -> None:
    chain = book.chain("node")
    assert [h.label for h in chain] == ["b0", "b", "node"]  # ProxyJump b: b follows b0
    home = pwd.getpwuid(os.getuid()).pw_dir
    assert chain[-1].identity_files == [os.path.join(home, ".ssh", "nodeuser@node.internal")]
    assert book.get("node").python == "/opt/env/bin/python"
    assert labels(book, "node-own-jump") == ["a0", "node-own-jump"]
    relay = book.chain("relay")
    assert len(relay) == 1 and relay[0].proxy_command == "socat - TCP:relay.internal:22"
    assert book.get("relay").state_dir == "/scratch/rdt"


def test_loops_and_bad_specs_are_named(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("Host x\n    ProxyJump y\nHost y\n    ProxyJump x\n")
    book = HostBook(load_ssh_config(str(config)), [])
    with pytest.raises(HostsError, match="loops back on itself"):
        book.chain("x")
    with pytest.raises(HostsError, match="bad host 'u@h:port'"):
        book.chain("u@h:port")
    config.write_text("Host tok\n    IdentityFile ~/.ssh/%z\n")
    with pytest.raises(HostsError, match=r"tok: IdentityFile ~/.ssh/%z: unknown token %z"):
        HostBook(load_ssh_config(str(config)), []).chain("tok")


def test_words_of_a_comment_on_a_host_line_are_not_hosts(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "Host c1 c2 # old names: c0 legacy\n    HostName c1.example.org # primary\n"
        "Host = kv\n    Port = 2200\n"
    )
    book = HostBook(load_ssh_config(str(config)), [])
    assert list(book.entries) == ["c1", "c2", "kv"]
    assert book.get("c1").hostname == "c1.example.org"
    assert book.get("kv").port == 2200
