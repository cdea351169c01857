"""Parity with OpenSSH: every host of the corpus resolved by us and by the real ``ssh -G``.

The corpus (tests/ssh_corpus/, see its README) is copied to ``$HOME/.ssh`` of a temporary
HOME, and the comparisons run in one child process inside a private mount namespace whose
/etc/hosts (and an nsswitch.conf that asks only files) knows the corpus's names, so
CanonicalizeHostname is exercised against real name resolution, for ssh and for us alike.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rdt_tui.config.sshconfig import SshConfig
from rdt_tui.config.sshlex import SshConfigError, percent_expand
from rdt_tui.config.sshroute import Jump, ssh_jump_of

from .sshparity import differences

CORPUS = Path(__file__).parent / "ssh_corpus"
ROOT = Path(__file__).parent.parent
# ssh looks canonical candidates up with a trailing dot ("gpu01.cluster.example.net."), which
# DNS takes and /etc/hosts matches only when written so: both forms are listed.
ETC_HOSTS = """\
127.0.0.1 localhost
10.1.0.5 login1.hpc.example.org login1.hpc.example.org.
10.1.0.6 gpu01.cluster.example.net gpu01.cluster.example.net.
10.1.0.7 fq.hpc.example.org fq.hpc.example.org.
10.9.9.9 real.example.org cname-src.hpc.example.org.
10.1.0.8 x.y.example.net x.y.example.net.
10.1.0.9 x.y.z.example.net x.y.z.example.net.
"""

pytestmark = [
    pytest.mark.skipif(shutil.which("ssh") is None, reason="openssh-client is not installed"),
]


def corpus_files() -> list[str]:
    return sorted(p.name for p in CORPUS.glob("*.conf"))


def parity_hosts(path: Path) -> list[str]:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# parity: "), f"{path} needs a '# parity: HOST ...' first line"
    return first[len("# parity: ") :].split()


def copy_corpus(home: str) -> str:
    ssh_dir = os.path.join(home, ".ssh")
    shutil.copytree(CORPUS, ssh_dir)
    for crlf in Path(ssh_dir).glob("crlf-*.conf"):
        crlf.write_bytes(crlf.read_bytes().replace(b"\n", b"\r\n"))
    return ssh_dir


def in_namespace(argv: list[str], tmp: str) -> list[str]:
    """``argv`` in a private mount namespace with our /etc/hosts, when we may make one."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return argv
    hosts = os.path.join(tmp, "hosts")
    nsswitch = os.path.join(tmp, "nsswitch.conf")
    Path(hosts).write_text(ETC_HOSTS)
    Path(nsswitch).write_text("hosts: files\n")
    script = (
        f"mount --bind {hosts} /etc/hosts && mount --bind {nsswitch} /etc/nsswitch.conf"
        ' && exec "$@"'
    )
    return ["unshare", "-m", "sh", "-c", script, "sh", *argv]


@pytest.fixture(scope="module")
def home() -> Iterator[str]:
    tmp = tempfile.mkdtemp(prefix="rdt-sshcorpus-", dir="/tmp")
    os.chmod(tmp, 0o755)
    copy_corpus(tmp)
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def records(home: str) -> dict[tuple[str, str], dict[str, Any]]:
    ssh_dir = os.path.join(home, ".ssh")
    spec = [(os.path.join(ssh_dir, name), parity_hosts(CORPUS / name)) for name in corpus_files()]
    spec_path = os.path.join(home, "spec.json")
    Path(spec_path).write_text(json.dumps(spec))
    env = dict(os.environ, HOME=home, PYTHONPATH=str(ROOT))
    argv = in_namespace([sys.executable, "-m", "tests.sshparity", spec_path], home)
    done = subprocess.run(
        argv, capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    out = {}
    for record in json.loads(done.stdout):
        out[(os.path.basename(record["file"]), record["host"])] = record
    return out


CASES = [(name, host) for name in corpus_files() for host in parity_hosts(CORPUS / name)]


def test_corpus_is_big_enough() -> None:
    assert len(corpus_files()) >= 12
    assert len(list((CORPUS / "refused").glob("*.conf"))) >= 8


@pytest.mark.parametrize(("name", "host"), CASES, ids=[f"{n}:{h}" for n, h in CASES])
def test_route_is_the_one_openssh_takes(
    records: dict[tuple[str, str], dict[str, Any]], name: str, host: str
) -> None:
    record = records[(name, host)]
    assert differences(record) == [], json.dumps(record, indent=1)


def test_the_harness_sees_a_difference(records: dict[tuple[str, str], dict[str, Any]]) -> None:
    """A broken resolution must fail the comparison, not slip through it."""
    record = json.loads(json.dumps(records[("proxyjump.conf", "t1")]))
    record["ours"][0]["fields"]["user"] = ["someone-else"]
    assert differences(record)
    record = json.loads(json.dumps(records[("proxyjump.conf", "t1")]))
    record["ours"][2]["asked"][3] = None  # hopb following its own ProxyJump
    assert differences(record)


def test_key_values_of_the_corpus(records: dict[tuple[str, str], dict[str, Any]]) -> None:
    """A few resolutions spelt out, so the corpus is known to exercise what it claims."""

    def target(name: str, host: str) -> dict[str, list[str]]:
        return dict(records[(name, host)]["ours"][-1]["fields"])

    def labels(name: str, host: str) -> list[str]:
        return [hop["asked"][0] for hop in records[(name, host)]["ours"]]

    assert target("keyvalue.conf", "kv2")["port"] == ["2202"]
    assert target("comments.conf", "c1")["hostname"] == ["c1.example.org"]
    assert ("comments.conf", "not-a-host") in records
    assert target("comments.conf", "not-a-host")["hostname"] == ["not-a-host"]
    assert target("tokens.conf", "tok1")["hostname"] == ["tok1.tokens.example.org"]
    assert target("include-main.conf", "early")["hostname"] == ["from-05-early"]
    assert target("include-main.conf", "bastion")["port"] == ["2201"]
    assert target("include-main.conf", "work1")["user"] == ["worker"]
    assert target("include-main.conf", "inner")["hostname"] == ["inner"]
    assert labels("proxyjump.conf", "t1") == ["hop0", "hopa", "hopb", "t1"]
    assert records[("proxyjump.conf", "t1")]["ours"][2]["asked"] == ["hopb", None, -1, "hopa"]
    assert labels("proxyjump.conf", "t4") == ["t4"]
    assert labels("proxycommand.conf", "pc-w") == ["outer", "gw", "pc-w"]
    assert labels("proxycommand.conf", "pc-nc") == ["outer", "gw", "pc-nc"]
    socat = records[("proxycommand.conf", "pc-socat")]["ours"]
    assert len(socat) == 1 and socat[0]["proxy_command"].startswith("socat - PROXY:")
    assert target("match-exec.conf", "labpc1")["user"] == ["from-script"]
    assert target("match-exec.conf", "onvpn")["hostname"] == ["onvpn.internal.example.org"]
    assert target("match-exec.conf", "tokexec")["identityfile"] == ["~/.ssh/id_tokexec"]
    if os.geteuid() == 0:  # the namespace with our /etc/hosts was made
        assert target("canonical.conf", "gpu01")["hostname"] == ["gpu01.cluster.example.net"]
        assert target("canonical.conf", "gpu01")["user"] == ["clusteruser"]
        assert target("canonical-cname.conf", "cname-src")["hostname"] == ["real.example.org"]
        assert target("canonical.conf", "bare")["hostname"] == ["bare"]
        assert target("canonical.conf", "127.1")["hostname"] == ["127.0.0.1"]
        assert target("canonical-dots.conf", "x.y")["hostname"] == ["x.y.example.net"]
        assert target("canonical-dots.conf", "x.y.z")["hostname"] == ["x.y.z"]


def refused_cases() -> list[tuple[str, str, int]]:
    out = []
    for path in sorted((CORPUS / "refused").glob("*.conf")):
        words = path.read_text().splitlines()[0].split()
        assert words[:2] == ["#", "refused:"], f"{path} needs a '# refused: LINE' first line"
        where = "included-bad.inc" if words[2] == "included" else path.name
        out.append((path.name, where, int(words[-1])))
    return out


@pytest.mark.parametrize(("name", "where", "line"), refused_cases())
def test_files_openssh_refuses_are_refused_at_the_same_line(
    home: str, monkeypatch: pytest.MonkeyPatch, name: str, where: str, line: int
) -> None:
    path = os.path.join(home, ".ssh", "refused", name)
    env = dict(os.environ, HOME=home)
    done = subprocess.run(
        ["ssh", "-G", "-F", path, "anyhost"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode != 0, f"ssh accepts {name}; the corpus is wrong"
    assert re.search(rf"\b{where}:? line {line}\b", done.stderr), done.stderr
    monkeypatch.setenv("HOME", home)
    with pytest.raises(SshConfigError) as info:
        SshConfig(path, None, explicit=True).resolve("anyhost")
    assert info.value.path.endswith(where) and info.value.line == line, str(info.value)


@pytest.mark.parametrize(
    ("command", "jump"),
    [
        ("ssh -W %h:%p gw", Jump("gw")),
        ("ssh gw -W [%h]:%p", Jump("gw")),
        ("ssh gw nc %h %p", Jump("gw")),
        ("exec /usr/bin/ssh -q -W %h:%p -l u -p 2200 gw", Jump("gw", "u", 2200)),
        ("ssh -J a,b -i ~/.ssh/k -W %h:%p u@gw", Jump("gw", "u", -1, "a,b", ["~/.ssh/k"])),
        ("ssh -o User=ou -o Port=23 -W %h:%p gw", Jump("gw", "ou", 23)),
        ("ssh -W %h:%p ssh://uu@gw:2022", Jump("gw", "uu", 2022)),
        ("ssh -W %h:%p gw # a comment", Jump("gw")),
        ("ssh -l %r -W %h:%p gw-%h", Jump("gw-node", "me")),
    ],
)
def test_proxycommands_that_are_jumps(command: str, jump: Jump) -> None:
    tokens = {"h": "node", "r": "me", "p": "22", "n": "node", "k": "node"}
    assert ssh_jump_of(command, lambda s: percent_expand(s, tokens)) == jump


@pytest.mark.parametrize(
    "command",
    [
        "ssh -W otherhost:22 gw",  # not the target: ssh would connect elsewhere
        "ssh gw 'nc %h %p' | tee /dev/null",  # a pipeline: only a shell runs that
        "socat - TCP:%h:%p",
        "ssh -o HostName=x -W %h:%p gw",  # an option we cannot take over: run it as it is
        "ssh -W %h:%p gw extra-command",
        "corkscrew proxy 3128 %h %p",
    ],
)
def test_other_proxycommands_run_as_commands(command: str) -> None:
    assert ssh_jump_of(command) is None


SYSTEM_FILE = """\
# a distribution's /etc/ssh/ssh_config: read after the user's file, so the user's values win
Host *
    User system-user
    Port 2022
    SendEnv LANG LC_*
    HashKnownHosts yes
Host sys-only
    HostName sys-only.example.org
"""


@pytest.mark.parametrize("host", ["gpu-a", "sys-only", "printer", "jump"])
def test_system_file_is_read_after_the_users(home: str, tmp_path: Path, host: str) -> None:
    """ssh reads ~/.ssh/config, then /etc/ssh/ssh_config, each from the top: the same as one
    file that includes the two, which ``ssh -G -F`` can be given."""
    user_file = os.path.join(home, ".ssh", "lab.conf")
    system_file = tmp_path / "ssh_config"
    system_file.write_text(SYSTEM_FILE)
    both = tmp_path / "both"
    both.write_text(f"Include {user_file}\nInclude {system_file}\n")
    done = subprocess.run(
        ["ssh", "-G", "-F", str(both), host], capture_output=True, text=True, check=True
    )
    theirs: dict[str, str] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        theirs.setdefault(key, value)
    r = SshConfig(user_file, str(system_file)).resolve(host)
    assert [r.hostname, str(r.port), r.user] == [
        theirs["hostname"],
        theirs["port"],
        theirs["user"],
    ]
    if host == "sys-only":
        assert r.hostname == "sys-only.example.org" and r.user == "labuser"


def test_hostbook_reads_the_users_file_then_the_system_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rdt_tui.config import hosts, sshconfig

    user_file = tmp_path / "config"
    user_file.write_text("Host box\n    HostName box.example.org\n")
    system_file = tmp_path / "ssh_config"
    system_file.write_text(SYSTEM_FILE)
    monkeypatch.delenv("RDT_TUI_SSH_CONFIG", raising=False)
    monkeypatch.setenv("RDT_TUI_SSH_SYSTEM_CONFIG", str(system_file))
    monkeypatch.setattr(sshconfig, "user_config_path", lambda: str(user_file))
    monkeypatch.setattr(hosts, "hosts_files", lambda: [])
    hop = hosts.HostBook.load().chain("box")[-1]
    assert (hop.hostname, hop.port, hop.user) == ("box.example.org", 2022, "system-user")
    monkeypatch.setenv("RDT_TUI_SSH_CONFIG", str(user_file))  # like ssh -F: that file alone
    hop = hosts.HostBook.load().chain("box")[-1]
    assert (hop.port, hop.user) == (22, pwd.getpwuid(os.getuid()).pw_name)


IDENTITY_CASES = [
    ("tokens.conf", "tok1"),
    ("tokens.conf", "TOK1"),
    ("tokens.conf", "tok3"),
    ("tokens.conf", "web"),
    ("lab.conf", "gpu-c"),
    ("lab.conf", "dave@gpu-b:2200"),
    ("hpc.conf", "gpu17"),
    ("keyvalue.conf", "kv3"),
    ("keyvalue.conf", "kv6"),
]


@pytest.mark.parametrize(("name", "spec"), IDENTITY_CASES)
def test_identity_files_are_expanded_as_ssh_expands_them(
    home: str, monkeypatch: pytest.MonkeyPatch, name: str, spec: str
) -> None:
    """``ssh -G`` prints IdentityFile unexpanded; ``ssh -v`` names the files it tries. A
    ProxyCommand of ``true`` ends the connection right after that, with no network."""
    from rdt_tui.config.hosts import HostBook

    from .sshparity import split_spec

    path = os.path.join(home, ".ssh", name)
    user, host, port = split_spec(spec)
    argv = ["ssh", "-v", "-F", path, "-o", "ProxyCommand=true", "-o", "BatchMode=yes"]
    argv += (["-l", user] if user else []) + (["-p", str(port)] if port > 0 else [])
    done = subprocess.run(
        [*argv, host], capture_output=True, text=True, env=dict(os.environ, HOME=home), timeout=30
    )
    tried = re.findall(r"debug1: identity file (.+) type -?\d+$", done.stderr, re.MULTILINE)
    theirs = [f for f in tried if not (f.endswith("-cert") and f[: -len("-cert")] in tried)]
    assert theirs, done.stderr
    monkeypatch.setenv("HOME", home)
    ours = HostBook(SshConfig(path, None, explicit=True), []).chain(spec)[-1].identity_files
    assert ours == theirs


@pytest.mark.parametrize("query", ["cipher", "mac", "kex", "key-sig"])
def test_the_algorithm_names_we_accept_are_the_ones_ssh_knows(query: str) -> None:
    from rdt_tui.config import sshkeywords

    known = {"cipher": "CIPHERS", "mac": "MACS", "kex": "KEX", "key-sig": "KEYTYPES"}[query]
    listed = subprocess.run(["ssh", "-Q", query], capture_output=True, text=True, check=True)
    assert getattr(sshkeywords, known) == frozenset(listed.stdout.split())
