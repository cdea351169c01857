"""``rdt-tui hosts``: routes in --json, --verify against ssh -G, refused files named by line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
CORPUS = Path(__file__).parent / "ssh_corpus"


def run_cli(config: Path, *args: str, home: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        RDT_TUI_SSH_CONFIG=str(config),
        RDT_TUI_CONFIG_DIR=str(config.parent / "rdt-cfg"),
        PYTHONPATH=str(ROOT),
    )
    if home:
        env["HOME"] = home
    return subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=str(config.parent),
        check=False,
    )


def test_hosts_json_gives_every_hop(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copy(CORPUS / "proxyjump.conf", config)
    done = run_cli(config, "hosts", "--json")
    assert done.returncode == 0, done.stderr
    hosts = {h["name"]: h for h in json.loads(done.stdout)}
    route = hosts["t1"]["route"]
    assert [(h["label"], h["hostname"], h["port"], h["user"]) for h in route] == [
        ("hop0", "hop0.example.org", 22, "everyone"),
        ("hopa", "hopa.example.org", 22, "ua"),
        ("hopb", "hopb.example.org", 2200, "ub"),
        ("t1", "t1.example.org", 22, "everyone"),
    ]
    assert all(h["proxy_command"] is None and h["identity_files"] for h in route)
    assert [h["reached_by"] for h in route] == [None, "ProxyJump", "ProxyJump", "ProxyJump"]
    t2 = hosts["t2"]["route"]
    assert (t2[-2]["user"], t2[-2]["port"]) == ("override", 2299)


def test_hosts_json_shows_a_proxycommand_run_as_the_transport(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copy(CORPUS / "proxycommand.conf", config)
    done = run_cli(config, "hosts", "--json")
    assert done.returncode == 0, done.stderr
    hosts = {h["name"]: h for h in json.loads(done.stdout)}
    socat = hosts["pc-socat"]["route"]
    assert len(socat) == 1
    assert socat[0]["proxy_command"] == (
        "socat - PROXY:proxy.example.org:10.1.1.7:22,proxyport=3128"
    )
    assert [h["label"] for h in hosts["pc-w"]["route"]] == ["outer", "gw", "pc-w"]
    listing = run_cli(config, "hosts")
    assert "ProxyCommand socat" in listing.stdout


@pytest.mark.skipif(shutil.which("ssh") is None, reason="openssh-client is not installed")
def test_hosts_verify_agrees_with_ssh_and_names_a_difference(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copy(CORPUS / "lab.conf", config)
    same = run_cli(config, "hosts", "--verify")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "gpu-a: same as ssh -G (2 hops)" in same.stdout
    # A Match exec that answers differently under ssh than under us (it asks for its
    # parent's name): --verify must see the difference, name the hop and field, and fail.
    config.write_text(
        'Match exec "ps -o comm= -p $PPID | grep -qx ssh"\n    Port 2999\n' + config.read_text()
    )
    different = run_cli(config, "hosts", "--verify")
    assert different.returncode == 1, different.stdout + different.stderr
    assert "gpu-a: DIFFERENT from ssh -G" in different.stdout
    assert "port: ours 22, ssh 2999" in different.stdout
    assert "Traceback" not in different.stderr


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("unclosed-quote.conf", "config:4: invalid quotes"),
        ("misspelt.conf", "config:5: Bad configuration option: hostnmae"),
        ("missing-value.conf", 'config:3: no argument after keyword "user"'),
        ("bad-port.conf", "config:6: port: Bad port 'twenty'"),
    ],
)
def test_a_file_ssh_refuses_is_refused_with_file_and_line(
    tmp_path: Path, name: str, where: str
) -> None:
    config = tmp_path / "config"
    shutil.copy(CORPUS / "refused" / name, config)
    for args in (["hosts"], ["hosts", "--json"], ["check-host", "anything"]):
        done = run_cli(config, *args)
        assert done.returncode != 0
        assert where in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_a_host_inside_an_included_block_is_not_listed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(CORPUS, home / ".ssh")
    done = run_cli(home / ".ssh" / "include-main.conf", "hosts", "--json", home=str(home))
    assert done.returncode == 0, done.stderr
    names = [h["name"] for h in json.loads(done.stdout)]
    assert names == ["early", "work1", "home1", "bastion"]  # not inner, gadget, nothere


def test_one_host_that_cannot_be_resolved_leaves_the_others_usable(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("Host broken\n    HostName %h:%p\nHost fine\n    HostName fine.example.org\n")
    listed = run_cli(config, "hosts")
    assert listed.returncode == 0, listed.stderr
    assert "fine.example.org" in listed.stdout and "(cannot be resolved)" in listed.stdout
    assert "broken: " in listed.stderr and "unknown token %p" in listed.stderr
    hosts = {h["name"]: h for h in json.loads(run_cli(config, "hosts", "--json").stdout)}
    assert "unknown token %p" in hosts["broken"]["route_error"]
    assert hosts["fine"]["route"][0]["hostname"] == "fine.example.org"
    if shutil.which("ssh"):
        verified = run_cli(config, "hosts", "--verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "broken: refused by ssh -G too" in verified.stdout


def test_the_route_as_check_host_prints_it(tmp_path: Path) -> None:
    from rdt_tui.cli.ssh import route_json, route_lines
    from rdt_tui.config.hosts import HostBook, parse_hosts_text
    from rdt_tui.config.sshconfig import load_ssh_config

    config = tmp_path / "config"
    config.write_text(
        "Host gw\n  HostName gw.example.org\n  User me\n  IdentityFile /keys/id_gw\n"
        "Host relay\n  HostName relay.internal\n  ProxyCommand socat - TCP:%h:%p\n"
    )
    hosts = parse_hosts_text(
        '[[hosts]]\nname = "node"\nhostname = "10.0.0.9"\nuser = "u"\njump = "gw"\n', "h.toml"
    )
    book = HostBook(load_ssh_config(str(config)), hosts)
    assert route_lines(route_json(book, "node")) == [
        "1. gw  me@gw.example.org:22  key /keys/id_gw",
        "2. node  u@10.0.0.9:22  (hosts file)",
    ]
    [relay] = route_lines(route_json(book, "relay"))
    assert relay.endswith("  through ProxyCommand: socat - TCP:relay.internal:22")
