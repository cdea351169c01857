"""Hosts from ssh_config and hosts.toml: resolution like ssh, errors that name file and line."""

from __future__ import annotations

import os
import pwd

import pytest

from rdt_tui.config.hosts import HostBook, HostsError, load_hosts_file, parse_hosts_text
from rdt_tui.config.sshconfig import load_ssh_config

SSH_CONFIG = """\
Host jump1
  HostName jump.example.org
  User alice
  IdentityFile ~/.ssh/id_jump

Host jump2
  HostName 10.0.0.2
  Port 2222
  ProxyJump jump1

Host gpu-*
  User bob
  IdentityFile ~/.ssh/id_gpu

Host gpu-a
  HostName gpu-node.internal
  ProxyJump jump2
  User carol

Host *
  User fallback
"""


def write(path: str, text: str) -> str:
    with open(path, "w") as fh:
        fh.write(text)
    return path


def test_ssh_config_chains_wildcards_and_first_value_wins(workdir: str) -> None:
    cfg = load_ssh_config(write(os.path.join(workdir, "config"), SSH_CONFIG))
    book = HostBook(cfg, [])
    names = {e.name: e for e in book.entries.values()}
    assert set(names) == {"jump1", "jump2", "gpu-a"}
    assert names["gpu-a"].source.endswith("config:15")
    chain = book.chain("gpu-a")
    assert [h.address() for h in chain] == [
        "alice@jump.example.org",
        "fallback@10.0.0.2:2222",
        "bob@gpu-node.internal",
    ]
    # First obtained value wins: `Host gpu-*` comes before `Host gpu-a`, so User is bob.
    # ... and the path is expanded as ssh expands it (~ is the passwd home).
    home = pwd.getpwuid(os.getuid()).pw_dir
    assert chain[-1].identity_files == [os.path.join(home, ".ssh/id_gpu")]


def test_ssh_config_include_and_bad_lines(workdir: str) -> None:
    write(os.path.join(workdir, "extra"), "Host extra\n  HostName 10.1.1.1\n")
    main = write(os.path.join(workdir, "config"), f"Include {workdir}/extra\n")
    assert [e.name for e in HostBook(load_ssh_config(main), []).entries.values()] == ["extra"]
    bad = write(os.path.join(workdir, "bad"), "Host x\n  Port twenty\n")
    with pytest.raises(HostsError, match=r"bad:2: port: Bad port 'twenty'"):
        HostBook(load_ssh_config(bad), [])


def test_hosts_file_merges_with_ssh_config_and_loops_are_caught(workdir: str) -> None:
    cfg = load_ssh_config(write(os.path.join(workdir, "config"), SSH_CONFIG))
    hosts = load_hosts_file(
        write(
            os.path.join(workdir, "hosts.toml"),
            """
[[hosts]]
name = "gpu-a"
python = "/opt/conda/envs/rdt/bin/python"
state_dir = "/scratch/rdt-tui"

[[hosts]]
name = "loop"
jump = ["loop2"]

[[hosts]]
name = "loop2"
jump = "loop"
""",
        )
    )
    book = HostBook(cfg, hosts)
    entry = book.get("gpu-a")
    assert entry.python == "/opt/conda/envs/rdt/bin/python"
    assert entry.hostname == "gpu-node.internal" and entry.jump == ["jump2"]
    with pytest.raises(HostsError, match="loops"):
        book.chain("loop")
    ad_hoc = book.chain("dave@10.9.9.9:2200")
    assert ad_hoc[-1].address() == "dave@10.9.9.9:2200"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[hosts]]\nname = "a"\nport = "22"\n', r"hosts.toml:2: host 'a': `port` must be"),
        ('[[hosts]]\nname = "b"\njump = 3\n', r"hosts.toml:2: host 'b': `jump` must be"),
        (
            '[[hosts]]\nname = "c"\nhostnam = "x"\n',
            r"hosts.toml:2: host 'c': unknown key 'hostnam'",
        ),
        ('[[hosts]\nname = "d"\n', r"hosts.toml: .*line 1"),
    ],
)
def test_bad_hosts_entries_name_the_file_and_line(workdir: str, text: str, message: str) -> None:
    path = write(os.path.join(workdir, "hosts.toml"), text)
    with pytest.raises(HostsError, match=message):
        load_hosts_file(path)


def test_a_hosts_file_entry_last_in_a_jump_list_does_not_follow_its_own_jump(
    workdir: str,
) -> None:
    # jump = ["a", "b"] is ProxyJump a,b: ssh asks for b with -J a, so b's own jump (b0) is
    # not taken, whether b is an ssh alias or, as here, a hosts-file entry.
    hosts = parse_hosts_text(
        '[[hosts]]\nname = "a"\nhostname = "10.0.0.1"\njump = "a0"\n\n'
        '[[hosts]]\nname = "a0"\nhostname = "10.0.0.2"\n\n'
        '[[hosts]]\nname = "b"\nhostname = "10.0.0.3"\njump = "b0"\n\n'
        '[[hosts]]\nname = "b0"\nhostname = "10.0.0.4"\n\n'
        '[[hosts]]\nname = "target"\nhostname = "10.0.0.5"\njump = ["a", "b"]\n',
        "hosts.toml",
    )
    book = HostBook(load_ssh_config(write(os.path.join(workdir, "config"), "")), hosts)
    assert [hop.label for hop in book.chain("target")] == ["a0", "a", "b", "target"]
    assert [hop.label for hop in book.chain("b")] == ["b0", "b"]
