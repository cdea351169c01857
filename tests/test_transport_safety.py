"""What a hostile node or another user could do to a transfer or to known_hosts, and how each
is refused.

The tests run the real copy and trust code; only where a hostile node is needed is its reply
played by a fake at the layer boundary (what SFTP readdir and read answer, or what the node's
Python answers over an exec channel). Through real OpenSSH: tests/test_ssh_safety.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import asyncssh
import pytest

from rdt_tui.config.hosts import Hop
from rdt_tui.transport import trust
from rdt_tui.transport.exec_side import ExecSide
from rdt_tui.transport.local_side import LocalSide
from rdt_tui.transport.sftp_side import SftpSide
from rdt_tui.transport.transfer import PART, Progress, TransferError, copy_tree
from rdt_tui.transport.trust import KnownHostsError, append_known_host

from .sshd import ensure_user

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(
    not ROOT or not os.path.exists("/usr/bin/python3"),
    reason="needs root (a second user, chown) and /usr/bin/python3",
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def noop(_p: Progress) -> None:
    pass


# ---------------------------------------------------------------------- a hostile node's listing


class HostileSftp:
    """The node's SFTP server as a hostile node plays it: ``dirs`` maps a directory to the
    names its readdir answers (as given, ``../x`` and all); ``files`` maps ``dir/name`` to the
    bytes a read of it returns."""

    def __init__(self, dirs: dict[str, list[str]], files: dict[str, bytes]) -> None:
        self.dirs = dirs
        self.files = files

    def _attrs(self, path: str) -> asyncssh.SFTPAttrs:
        if path in self.dirs:
            return asyncssh.SFTPAttrs(permissions=stat.S_IFDIR | 0o755, size=4096)
        if path in self.files:
            return asyncssh.SFTPAttrs(permissions=stat.S_IFREG | 0o644, size=len(self.files[path]))
        raise asyncssh.SFTPNoSuchFile(path)

    async def isdir(self, path: str) -> bool:
        return path in self.dirs

    async def stat(self, path: str) -> asyncssh.SFTPAttrs:
        return self._attrs(path)

    async def readdir(self, path: str) -> list[asyncssh.SFTPName]:
        here = [asyncssh.SFTPName(filename=n, attrs=self._attrs(path)) for n in (".", "..")]
        return here + [
            asyncssh.SFTPName(filename=n, attrs=self._attrs(f"{path}/{n}")) for n in self.dirs[path]
        ]

    def open(self, path: str, mode: str, **_kw: Any) -> Any:
        data = self.files[path]

        class Reader:
            async def __aenter__(self) -> Reader:
                return self

            async def __aexit__(self, *exc: object) -> None:
                return None

            async def read(self, n: int, offset: int) -> bytes:
                return data[offset : offset + n]

        return Reader()


class HostileConn:
    """The exec channel's answers: to the hash command, what the node claims its files hash
    to; to the reader a pull starts, the file's bytes from the offset asked."""

    def __init__(self, sftp: HostileSftp, claims: dict[str, str] | None = None) -> None:
        self.sftp = sftp
        self.claims = claims or {}

    async def run(self, cmd: str, check: bool = False) -> Any:
        paths = shlex.split(cmd)[3:]
        out = {p: self.claims.get(p) or sha(self.sftp.files[p]) for p in paths}
        return SimpleNamespace(exit_status=0, stdout=json.dumps(out), stderr="")

    async def create_process(self, cmd: str, encoding: Any = None, **_channel: Any) -> Any:
        path, offset = shlex.split(cmd)[3:5]
        stdout = asyncio.StreamReader()
        stdout.feed_data(self.sftp.files[path][int(offset) :])
        stdout.feed_eof()

        async def wait() -> Any:
            return SimpleNamespace(exit_status=0, stderr="")

        return SimpleNamespace(stdout=stdout, wait=wait, close=lambda: None)


def hostile_node(dirs: dict[str, list[str]], files: dict[str, bytes]) -> SftpSide:
    sftp = HostileSftp(dirs, files)
    return SftpSide(HostileConn(sftp), sftp, "python3")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "dirs,files",
    [
        ({"model": ["ok.bin", "../escaped"]}, {"model/ok.bin": b"ok", "model/../escaped": b"x"}),
        (
            {"model": ["sub"], "model/sub": ["a/b/../../../../escaped"]},
            {"model/sub/a/b/../../../../escaped": b"x"},
        ),
        ({"model": ["x\0y"]}, {"model/x\0y": b"x"}),
        ({"model": ["/escaped"]}, {"model//escaped": b"x"}),
    ],
    ids=["dotdot", "nested-dotdot", "nul", "absolute"],
)
async def test_pull_refuses_node_names_that_leave_the_destination(
    workdir: str, dirs: dict[str, list[str]], files: dict[str, bytes]
) -> None:
    dest = os.path.join(workdir, "a", "b", "dest")
    os.makedirs(dest)
    with pytest.raises(TransferError) as err:
        await copy_tree(
            hostile_node(dirs, files), "model", LocalSide(), dest, False, Progress(), noop
        )
    assert "refusing" in err.value.message
    written = [os.path.join(d, f) for d, _, fs in os.walk(workdir) for f in fs]
    assert written == [], written
    assert not os.path.exists("/escaped")


class HostileExecConn:
    """The node's Python as a hostile node plays it over exec channels: ``walk`` lists
    ``names`` as given."""

    def __init__(self, names: list[Any]) -> None:
        self.names = names

    async def run(self, cmd: str, check: bool = False) -> Any:
        op = shlex.split(cmd)[4]
        answer = {"isdir": True, "walk": self.names}.get(op)
        return SimpleNamespace(exit_status=0, stdout=json.dumps({"ok": answer}), stderr="")


@pytest.mark.parametrize(
    "names,wanted",
    [
        ([["../escaped", 1]], "refusing the file name"),
        ([["a/../../escaped", 1]], "refusing the file name"),
        ([["/escaped", 1]], "refusing the file name"),
        ({"not": "a list"}, "not a list of files"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "garbage"],
)
async def test_pull_over_exec_channels_refuses_a_hostile_listing(
    workdir: str, names: Any, wanted: str
) -> None:
    node = ExecSide(HostileExecConn(names), "python3")  # type: ignore[arg-type]
    dest = os.path.join(workdir, "a", "dest")
    os.makedirs(dest)
    with pytest.raises(TransferError) as err:
        await copy_tree(node, "model", LocalSide(), dest, False, Progress(), noop)
    assert wanted in err.value.message
    assert [f for _, _, fs in os.walk(workdir) for f in fs] == []


async def test_pull_of_a_listing_with_only_good_names_still_works(workdir: str) -> None:
    node = hostile_node(
        {"model": ["a.bin", "sub", "..b"], "model/sub": ["c.bin"]},
        {"model/a.bin": b"a" * 100, "model/sub/c.bin": b"c" * 10, "model/..b": b"dots"},
    )
    dest = os.path.join(workdir, "dest")
    p = await copy_tree(node, "model", LocalSide(), dest, False, Progress(), noop)
    assert p.files == 3
    with open(os.path.join(dest, "..b"), "rb") as fh:
        assert fh.read() == b"dots"
    with open(os.path.join(dest, "sub", "c.bin"), "rb") as fh:
        assert fh.read() == b"c" * 10


def make_tree(root: str, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "wb") as fh:
            fh.write(data)


async def test_pull_never_writes_through_a_symlink_inside_the_destination(workdir: str) -> None:
    src, dest, outside = (os.path.join(workdir, n) for n in ("src", "dest", "outside"))
    make_tree(src, {"sub/weights.bin": b"w" * 1000, "top.bin": b"t"})
    os.makedirs(dest)
    os.makedirs(outside)
    os.symlink(outside, os.path.join(dest, "sub"))
    with pytest.raises(TransferError) as err:
        await copy_tree(LocalSide(), src, LocalSide(), dest, False, Progress(), noop)
    assert "symbolic link" in err.value.message and os.path.join(dest, "sub") in err.value.message
    assert os.listdir(outside) == []
    # A link as the file itself is not written through either (even with --force).
    os.unlink(os.path.join(dest, "sub"))
    target = os.path.join(outside, "target")
    with open(target, "wb") as fh:
        fh.write(b"precious")
    os.symlink(target, os.path.join(dest, "top.bin"))
    with pytest.raises(TransferError):
        await copy_tree(LocalSide(), src, LocalSide(), dest, True, Progress(), noop)
    with open(target, "rb") as fh:
        assert fh.read() == b"precious"


async def test_a_bare_relative_destination_still_works(
    workdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = os.path.join(workdir, "model.bin")
    with open(src, "wb") as fh:
        fh.write(b"m" * 1000)
    monkeypatch.chdir(workdir)
    p = await copy_tree(LocalSide(), src, LocalSide(), "copy.bin", False, Progress(), noop)
    assert p.files == 1
    with open(os.path.join(workdir, "copy.bin"), "rb") as fh:
        assert fh.read() == b"m" * 1000


# ------------------------------------------------------------------------- planted part files


def random_source(workdir: str, size: int = 300_000) -> tuple[str, bytes]:
    """``workdir/model.bin`` of ``size`` random bytes: its path and its bytes."""
    src = os.path.join(workdir, "model.bin")
    data = os.urandom(size)
    with open(src, "wb") as fh:
        fh.write(data)
    return src, data


def plant_part(dest: str, first: bytes) -> None:
    """The part file of an earlier, cut transfer to ``dest``, holding ``first``."""
    with open(dest + PART, "wb") as fh:
        fh.write(first)


@pytest.fixture
def shared_dir() -> Iterator[str]:
    """A world-writable sticky directory, like /tmp or a group's scratch space."""
    path = tempfile.mkdtemp(prefix="rdt-shared-", dir="/tmp")
    os.chmod(path, 0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def other_user() -> Any:
    if not ROOT:
        pytest.skip("needs root to act as another user")
    return ensure_user()


async def test_a_planted_part_symlink_is_refused_and_its_target_untouched(
    workdir: str, shared_dir: str, other_user: Any
) -> None:
    src, _data = random_source(workdir)
    victim = os.path.join(workdir, "victim")
    with open(victim, "wb") as fh:
        fh.write(b"precious")
    dest = os.path.join(shared_dir, "model.bin")
    os.symlink(victim, dest + PART)
    os.lchown(dest + PART, other_user.pw_uid, other_user.pw_gid)
    with pytest.raises(TransferError) as err:
        await copy_tree(LocalSide(), src, LocalSide(), dest, False, Progress(), noop)
    assert "symbolic link" in err.value.message and dest + PART in err.value.message
    with open(victim, "rb") as fh:
        assert fh.read() == b"precious"
    assert not os.path.exists(dest)


async def test_a_part_file_of_another_user_is_not_resumed(
    workdir: str, shared_dir: str, other_user: Any
) -> None:
    src, data = random_source(workdir)
    dest = os.path.join(shared_dir, "model.bin")
    # The right first bytes (a public checkpoint, say), in a file the other user owns: resuming
    # into it would hand them the finished destination.
    plant_part(dest, data[:1000])
    os.chown(dest + PART, other_user.pw_uid, other_user.pw_gid)
    with pytest.raises(TransferError) as err:
        await copy_tree(LocalSide(), src, LocalSide(), dest, False, Progress(), noop)
    assert "not left by you" in err.value.message
    assert not os.path.exists(dest)


async def test_a_part_of_ours_still_resumes(workdir: str) -> None:
    src, data = random_source(workdir)
    dest = os.path.join(workdir, "copy.bin")
    plant_part(dest, data[:1000])
    p = await copy_tree(LocalSide(), src, LocalSide(), dest, False, Progress(), noop)
    assert p.resumed_bytes == 1000 and p.files == 1
    with open(dest, "rb") as fh:
        assert fh.read() == data


class SwappingLocal(LocalSide):
    """This machine, where another process of the same user swaps the part file for another
    one right after the resumed bytes were read (and hashed)."""

    async def read_part(self, path: str) -> AsyncIterator[bytes]:
        async for block in super().read_part(path):
            yield block
        os.rename(path, path + ".moved")
        with open(path, "wb") as fh:
            fh.write(b"other bytes")


class PlantingLocal(LocalSide):
    """This machine, where a part file link to ``victim`` appears right after the destination
    was checked: only opening the part without following links stops it."""

    def __init__(self, victim: str) -> None:
        super().__init__()
        self.victim = victim

    async def check_target(self, root: str, path: str) -> None:
        await super().check_target(root, path)
        os.symlink(self.victim, path + PART)


async def test_a_part_link_planted_after_the_check_is_not_followed(workdir: str) -> None:
    src, _data = random_source(workdir, 100_000)
    victim = os.path.join(workdir, "victim")
    with open(victim, "wb") as fh:
        fh.write(b"precious")
    dest = os.path.join(workdir, "copy.bin")
    with pytest.raises(TransferError) as err:
        await copy_tree(LocalSide(), src, PlantingLocal(victim), dest, False, Progress(), noop)
    assert "symbolic link" in err.value.message
    with open(victim, "rb") as fh:
        assert fh.read() == b"precious"
    assert not os.path.exists(dest)


async def test_a_part_swapped_after_it_was_hashed_is_not_renamed_into_place(
    workdir: str,
) -> None:
    src, data = random_source(workdir, 100_000)
    dest = os.path.join(workdir, "copy.bin")
    plant_part(dest, data[:1000])
    with pytest.raises(TransferError) as err:
        await copy_tree(LocalSide(), src, SwappingLocal(), dest, False, Progress(), noop)
    assert "not left by you" in err.value.message
    assert not os.path.exists(dest)


async def test_a_hash_that_never_matches_is_never_reported_as_success(workdir: str) -> None:
    sftp = HostileSftp({"model": ["w.bin"]}, {"model/w.bin": b"w" * 5000})
    conn = HostileConn(sftp, claims={"model/w.bin": "0" * 64})
    node = SftpSide(conn, sftp, "python3")  # type: ignore[arg-type]
    dest = os.path.join(workdir, "dest")
    with pytest.raises(TransferError) as err:
        await copy_tree(node, "model", LocalSide(), dest, False, Progress(), noop)
    assert "hash mismatch" in err.value.message
    assert os.listdir(dest) == []  # neither the file nor its part


# ------------------------------------------------------------------------------- known_hosts


@pytest.fixture(scope="module")
def host_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")


def keygen_finds(name: str, path: str) -> bool:
    out = subprocess.run(["ssh-keygen", "-F", name, "-f", path], capture_output=True, text=True)
    return out.returncode == 0 and "found" in out.stdout


@needs_root
@pytest.mark.parametrize("kind", ["chardev", "fifo", "directory"])
def test_trust_refuses_a_known_hosts_that_is_not_a_regular_file(
    workdir: str, host_key: asyncssh.SSHKey, kind: str
) -> None:
    path = os.path.join(workdir, "known_hosts")
    if kind == "chardev":  # a /dev/null of our own: the real one must never be at risk
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        os.mkdir(path)
    before = os.lstat(path)
    with pytest.raises(KnownHostsError) as err:
        append_known_host(path, Hop("n", "node.example", 2222), host_key)
    assert path in err.value.message and "not a regular file" in err.value.message
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (
        before.st_mode,
        before.st_ino,
        before.st_rdev,
    )


def test_trust_refuses_a_known_hosts_swapped_for_a_fifo_after_its_check(
    workdir: str, host_key: asyncssh.SSHKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between the check by name and the open, the path becomes a FIFO: what was opened is
    # checked again, so nothing is written into it.
    path = os.path.join(workdir, "known_hosts")
    check = trust._refuse_non_regular

    def check_then_swap(p: str, mode: int | None = None) -> None:
        check(p, mode)
        if mode is None:
            os.mkfifo(p)

    monkeypatch.setattr(trust, "_refuse_non_regular", check_then_swap)
    with pytest.raises(KnownHostsError) as err:
        append_known_host(path, Hop("n", "node.example", 2222), host_key)
    assert path in err.value.message and "not a regular file" in err.value.message
    assert stat.S_ISFIFO(os.lstat(path).st_mode)


def test_trust_into_an_impossible_path_is_a_clear_error(
    workdir: str, host_key: asyncssh.SSHKey
) -> None:
    blocker = os.path.join(workdir, "ssh")
    with open(blocker, "w") as fh:
        fh.write("a file where a directory should be")
    path = os.path.join(blocker, "known_hosts")
    with pytest.raises(KnownHostsError) as err:
        append_known_host(path, Hop("n", "node.example", 22), host_key)
    assert blocker in err.value.message


def test_trust_writes_through_a_symlinked_known_hosts(
    workdir: str, host_key: asyncssh.SSHKey
) -> None:
    target = os.path.join(workdir, "dotfiles", "known_hosts")
    os.makedirs(os.path.dirname(target))
    with open(target, "w") as fh:
        fh.write("old.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFake")
    link = os.path.join(workdir, "known_hosts")
    os.symlink(target, link)
    append_known_host(link, Hop("n", "node.example", 2222), host_key)
    assert os.path.islink(link) and os.readlink(link) == target
    with open(target) as fh:
        lines = fh.read().splitlines()
    assert lines[0].startswith("old.example ") and lines[1].startswith("[node.example]:2222 ")
    assert keygen_finds("[node.example]:2222", target)


def test_trust_hashes_the_name_when_asked(workdir: str, host_key: asyncssh.SSHKey) -> None:
    path = os.path.join(workdir, "known_hosts")
    append_known_host(path, Hop("n", "node.example", 2222), host_key, hash_name=True)
    append_known_host(path, Hop("j", "jump.example", 22), host_key, hash_name=True)
    with open(path) as fh:
        text = fh.read()
    assert "example" not in text and text.count("|1|") == 2
    assert keygen_finds("[node.example]:2222", path) and keygen_finds("jump.example", path)
    assert not keygen_finds("other.example", path)
    known = asyncssh.read_known_hosts(path)
    assert known.match("[node.example]:2222", "", None)[0]


CONCURRENT = """
import sys, asyncssh
from rdt_tui.config.hosts import Hop
from rdt_tui.transport.trust import append_known_host
key = asyncssh.import_private_key(open(sys.argv[2]).read())
for i in range(int(sys.argv[4])):
    append_known_host(sys.argv[1], Hop("h", f"host-{sys.argv[3]}-{i}.example", 22), key)
"""


def test_concurrent_trusts_lose_no_line(workdir: str, host_key: asyncssh.SSHKey) -> None:
    key_file = os.path.join(workdir, "key")
    host_key.write_private_key(key_file)
    path = os.path.join(workdir, "known_hosts")
    writers, each = 6, 40
    procs = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT, path, key_file, str(w), str(each)])
        for w in range(writers)
    ]
    for proc in procs:
        assert proc.wait(120) == 0
    with open(path) as fh:
        names = [line.split()[0] for line in fh.read().splitlines()]
    assert sorted(names) == sorted(
        f"host-{w}-{i}.example" for w in range(writers) for i in range(each)
    )
