"""The agent over real OpenSSH, through a jump host: deploy, runs, key checks, failures."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from rdt_tui.client import AgentClient
from rdt_tui.config.hosts import Hop, HostBook
from rdt_tui.config.sshconfig import load_ssh_config
from rdt_tui.core.metrics import parse_text
from rdt_tui.protocol.messages import Point, RunSummary
from rdt_tui.protocol.wire import points_of
from rdt_tui.transport.errors import (
    AuthRefused,
    HostKeyChanged,
    HostKeyUnknown,
    HostUnreachable,
    JumpUnreachable,
    RemotePythonMissing,
    RemotePythonTooOld,
)
from rdt_tui.transport.ssh import SshTransport

from .conftest import _stop_daemon as stop_daemon
from .conftest import kill_run
from .sshd import NODE_NAME, USER, SshLab, free_port, sshd_path, start_lab

NODE_PYTHON = "/usr/bin/python3"

pytestmark = [
    pytest.mark.skipif(sshd_path() is None, reason="openssh-server is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the sshd lab needs root (users, namespaces)"),
    pytest.mark.skipif(not os.path.exists(NODE_PYTHON), reason="no /usr/bin/python3 for the node"),
]


@pytest.fixture(scope="module")
def lab() -> Iterator[SshLab]:
    lab = start_lab()
    yield lab
    lab.stop()
    subprocess.run(["pkill", "-KILL", "-u", lab.user], check=False)
    shutil.rmtree(lab.root, ignore_errors=True)


@pytest.fixture
def node_state(lab: SshLab) -> str:
    # A fresh agent state dir on the node per test, owned by the node's user once it runs.
    return f"/tmp/rdt-node-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def trusted(lab: SshLab) -> Iterator[None]:
    lab.trust_both()
    yield
    lab.trust_both()


def hops(lab: SshLab, host: str = "node") -> list[Hop]:
    return HostBook(load_ssh_config(lab.ssh_config), []).chain(host)


def client(
    lab: SshLab,
    state: str,
    chain: list[Hop] | None = None,
    python: str = NODE_PYTHON,
    reconnect: bool = False,
) -> AgentClient:
    transport = SshTransport(
        "node", chain or hops(lab), python=python, state_dir=state, connect_timeout=10
    )
    return AgentClient(transport, reconnect=reconnect)


def fingerprint(pub: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".pub") as fh:
        fh.write(pub + "\n")
        fh.flush()
        out = subprocess.run(["ssh-keygen", "-lf", fh.name], capture_output=True, text=True)
    return out.stdout.split()[1]


def cli(lab: SshLab, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        RDT_TUI_SSH_CONFIG=lab.ssh_config,
        RDT_TUI_CONFIG_DIR=os.path.join(lab.root, "cfg"),
    )
    return subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


async def wait_ended(c: AgentClient, run: str) -> RunSummary:
    for _ in range(600):
        s = await c.status(run)
        if s["status"] != "running":
            return s
        await asyncio.sleep(0.1)
    raise AssertionError(f"{run} did not end")


async def test_launch_through_the_jump_with_hostile_arguments(lab: SshLab, node_state: str) -> None:
    hostile = [
        "it's",
        '"$(touch /tmp/pwned-ssh)"',
        "`id`",
        "a; rm -rf /",
        "new\nline",
        " spaced  out ",
        "ünï©ødé",
        "$HOME",
        "*",
    ]
    code = (
        "import json, sys\nprint(json.dumps(sys.argv[1:]))\n"
        "for i in range(1, 6): print(f'step={i} loss={1/i:.3f}', flush=True)\n"
    )
    async with client(lab, node_state) as c:
        assert c.info["uid"] != 0 and c.info["python"].startswith("3.")
        run = await c.launch([NODE_PYTHON, "-c", code, *hostile], cwd="/tmp", name="hostile")
        final = await wait_ended(c, run["id"])
        assert final["status"] == "exited" and final["exit_code"] == 0
        lines = (await c.tail(run["id"], 20))["lines"]
        assert json.loads(lines[0]) == hostile
        points = await c.all_metrics(run["id"])
        assert [(p["step"], p["value"]) for p in points] == [
            (1, 1.0),
            (2, 0.5),
            (3, 0.333),
            (4, 0.25),
            (5, 0.2),
        ]
    assert not os.path.exists("/tmp/pwned-ssh")


async def test_unknown_host_key_is_refused_on_the_jump_and_on_the_node(
    lab: SshLab, node_state: str
) -> None:
    lab.write_known_hosts([(f"[{NODE_NAME}]:{lab.node.port}", lab.keys["node"])])
    with pytest.raises(HostKeyUnknown) as err:
        await client(lab, node_state).connect()
    assert err.value.hop == "jump"
    assert err.value.fingerprint == fingerprint(lab.keys["jump"])
    assert "rdt-tui trust jump" in err.value.hint
    lab.write_known_hosts([(f"[127.0.0.1]:{lab.jump.port}", lab.keys["jump"])])
    with pytest.raises(HostKeyUnknown) as err:
        await client(lab, node_state).connect()
    assert err.value.hop == "node"
    assert err.value.fingerprint == fingerprint(lab.keys["node"])


async def test_a_changed_host_key_is_refused_outright(lab: SshLab, node_state: str) -> None:
    with open(lab.wrong_key + ".pub") as fh:
        impostor = fh.read().strip()
    lab.write_known_hosts(
        [
            (f"[127.0.0.1]:{lab.jump.port}", lab.keys["jump"]),
            (f"[{NODE_NAME}]:{lab.node.port}", impostor),
        ]
    )
    with pytest.raises(HostKeyChanged) as err:
        await client(lab, node_state).connect()
    assert fingerprint(lab.keys["node"]) in err.value.message
    assert "ssh-keygen -R" in err.value.hint


async def test_a_wrong_user_key_is_refused(lab: SshLab, node_state: str) -> None:
    chain = hops(lab)
    chain[-1].identity_files = [lab.wrong_key]
    with pytest.raises(AuthRefused) as err:
        await client(lab, node_state, chain).connect()
    assert "node" in err.value.message and lab.user in err.value.message


async def test_jump_down_node_down_and_missing_python_name_the_problem(
    lab: SshLab, node_state: str
) -> None:
    chain = hops(lab)
    chain[0].port = free_port()
    with pytest.raises(JumpUnreachable) as jump_err:
        await client(lab, node_state, chain).connect()
    assert "jump" in jump_err.value.message
    chain = hops(lab)
    chain[1].port = free_port()
    lab.write_known_hosts(
        [
            (f"[127.0.0.1]:{lab.jump.port}", lab.keys["jump"]),
            (f"[{NODE_NAME}]:{chain[1].port}", lab.keys["node"]),
        ]
    )
    with pytest.raises(HostUnreachable) as node_err:
        await client(lab, node_state, chain).connect()
    assert "could not reach" in node_err.value.message
    lab.trust_both()
    with pytest.raises(RemotePythonMissing) as py_err:
        await client(lab, node_state, python="/opt/no/python3").connect()
    assert "/opt/no/python3" in py_err.value.message and "hosts.toml" in py_err.value.hint


async def test_a_run_outlives_its_client_and_a_new_client_sees_all_of_it(
    lab: SshLab, node_state: str
) -> None:
    code = (
        "import time\nfor i in range(1, 31):\n"
        "    print(f'step={i} loss={1/i:.4f}', flush=True)\n    time.sleep(0.1)\n"
    )
    async with client(lab, node_state) as c:
        run = (await c.launch([NODE_PYTHON, "-c", code], cwd="/tmp"))["id"]
    # A client process killed mid-stream (a laptop lid closed): the run does not notice.
    env = dict(os.environ, RDT_TUI_SSH_CONFIG=lab.ssh_config)
    follower = subprocess.Popen(
        [sys.executable, "-c", FOLLOW, lab.ssh_config, node_state, run],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert follower.stdout is not None
    assert follower.stdout.readline()  # it is streaming
    follower.send_signal(signal.SIGKILL)
    follower.wait()
    async with client(lab, node_state) as c2:
        final = await wait_ended(c2, run)
        assert final["status"] == "exited" and final["exit_code"] == 0
        log = (await c2.tail(run, 100))["lines"]
        assert log == [f"step={i} loss={1 / i:.4f}" for i in range(1, 31)]


FOLLOW = """
import asyncio, sys
from rdt_tui.client import AgentClient
from rdt_tui.config.hosts import HostBook
from rdt_tui.config.sshconfig import load_ssh_config
from rdt_tui.transport.ssh import SshTransport
async def main():
    hops = HostBook(load_ssh_config(sys.argv[1]), []).chain("node")
    c = AgentClient(SshTransport("node", hops, python="/usr/bin/python3", state_dir=sys.argv[2]))
    await c.connect()
    async for ev in await c.subscribe(sys.argv[3], gpu=False):
        print(ev["event"], flush=True)
asyncio.run(main())
"""

WRITER = """
import sys, time
t0 = time.monotonic()
step = 0
for burst in range(120):
    for k in range(50):
        step += 1
        sys.stdout.write("step=%d loss=%.6f\\n" % (step, 1.0 / step))
    sys.stdout.flush()
    time.sleep(max(0.0, t0 + (burst + 1) * 0.05 - time.monotonic()))
"""


async def test_a_killed_ssh_session_reconnects_and_the_stream_has_no_gap(
    lab: SshLab, node_state: str
) -> None:
    c = client(lab, node_state, reconnect=True)
    await c.connect()
    states: list[str] = []
    c.on_state(states.append)
    run = (await c.launch([NODE_PYTHON, "-c", WRITER], cwd="/tmp"))["id"]
    sub = await c.subscribe(run, gpu=False)
    received: list[Point] = []
    killed = False
    async for ev in sub:
        if ev["event"] == "metric":
            received.extend(points_of(ev["data"]))
            if not killed and len(received) > 500:
                for pid in lab.node.session_pids():
                    os.kill(pid, signal.SIGKILL)  # the node's sshd for our session dies
                killed = True
        elif ev["event"] == "status" and ev["data"].get("complete"):
            break
    await c.close()
    assert killed and c.reconnects >= 1
    assert "reconnecting" in states and states.count("connected") >= 1
    with open(os.path.join(node_state, "runs", run, "output.log")) as fh:
        expected = parse_text(fh.read())
    assert len(expected) == 6000
    assert [p["seq"] for p in received] == list(range(1, len(received) + 1))
    assert [(p["name"], p["value"], p["step"]) for p in received] == [
        (p.name, p.value, p.step) for p in expected
    ]


def test_cli_hosts_trust_and_check_host(lab: SshLab, node_state: str) -> None:
    listed = cli(lab, "hosts", "--json")
    assert listed.returncode == 0, listed.stderr
    by_name = {h["name"]: h for h in json.loads(listed.stdout)}
    assert by_name["node"]["jump"] == ["jump"]
    assert by_name["node"]["source"].startswith(lab.ssh_config + ":")
    os.unlink(lab.known_hosts)
    refused = cli(lab, "check-host", "node")
    assert refused.returncode != 0 and "Unknown host key" in refused.stderr
    assert "rdt-tui trust jump" in refused.stderr and "Traceback" not in refused.stderr
    declined = cli(lab, "trust", "node", stdin="n\n")
    assert declined.returncode == 1 and not os.path.exists(lab.known_hosts)
    trusted = cli(lab, "trust", "node", stdin="y\ny\n")
    assert trusted.returncode == 0, trusted.stderr
    assert fingerprint(lab.keys["jump"]) in trusted.stdout
    assert fingerprint(lab.keys["node"]) in trusted.stdout
    again = cli(lab, "trust", "node")
    assert again.stdout.count("already trusted") == 2
    with open(os.path.join(lab.root, "hosts.toml"), "w") as fh:
        fh.write(
            f'[[hosts]]\nname = "node"\npython = "{NODE_PYTHON}"\nstate_dir = "{node_state}"\n'
        )
    os.makedirs(os.path.join(lab.root, "cfg"), exist_ok=True)
    shutil.copy(os.path.join(lab.root, "hosts.toml"), os.path.join(lab.root, "cfg"))
    checked = cli(lab, "check-host", "node", "--json")
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["python_executable"] == NODE_PYTHON and report["agent"]["build"]
    assert report["state_dir"] == node_state and report["active_runs"] == []


def lab_env(lab: SshLab, workdir: str) -> dict[str, str]:
    """The CLI's environment for the lab's hosts, with this machine's agent in ``workdir``."""
    return dict(
        os.environ,
        RDT_TUI_SSH_CONFIG=lab.ssh_config,
        RDT_TUI_CONFIG_DIR=os.path.join(lab.root, "cfg"),
        RDT_TUI_STATE_DIR=os.path.join(workdir, "local-state"),
    )


def write_cli_hosts(lab: SshLab, node_state: str) -> None:
    cfg = os.path.join(lab.root, "cfg")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, "hosts.toml"), "w") as fh:
        fh.write(
            f'[[hosts]]\nname = "node"\npython = "{NODE_PYTHON}"\nstate_dir = "{node_state}"\n'
        )


def sha_tree(root: str) -> dict[str, str]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def interrupted(lab: SshLab, args: list[str], watch_dir: str, min_bytes: int) -> None:
    """Start a transfer and SIGKILL it once a part file holds ``min_bytes``."""
    env = dict(
        os.environ,
        RDT_TUI_SSH_CONFIG=lab.ssh_config,
        RDT_TUI_CONFIG_DIR=os.path.join(lab.root, "cfg"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "rdt_tui.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        parts = [
            os.path.join(d, f)
            for d, _, fs in os.walk(watch_dir)
            for f in fs
            if f.endswith(".rdt-part")
        ]
        if any(os.path.getsize(p) >= min_bytes for p in parts):
            proc.kill()
            proc.wait()
            return
        time.sleep(0.01)
    proc.kill()
    raise AssertionError("the transfer ended before it could be interrupted")


def test_push_then_pull_a_directory_with_interruptions(
    lab: SshLab, node_state: str, workdir: str
) -> None:
    write_cli_hosts(lab, node_state)
    src = os.path.join(workdir, "model")
    os.makedirs(os.path.join(src, "ema"))
    for name, size in (
        ("pytorch_model.bin", 160 << 20),
        ("ema/model.safetensors", 60 << 20),
        ("config.json", 100),
    ):
        with open(os.path.join(src, name), "wb") as fh:
            fh.write(os.urandom(size))
    remote = f"/tmp/rdt-tx-{uuid.uuid4().hex[:8]}"
    os.makedirs(remote)
    shutil.chown(remote, lab.user)
    interrupted(lab, ["push", "node", src, f"{remote}/model"], remote, 40 << 20)
    pushed = cli(lab, "push", "node", src, f"{remote}/model", "--json")
    assert pushed.returncode == 0, pushed.stderr
    summary = json.loads(pushed.stdout)
    assert summary["resumed_bytes"] >= 40 << 20
    assert sha_tree(f"{remote}/model") == sha_tree(src)
    back = os.path.join(workdir, "back")
    interrupted(lab, ["pull", "node", f"{remote}/model", back], workdir, 40 << 20)
    pulled = cli(lab, "pull", "node", f"{remote}/model", back, "--json")
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["resumed_bytes"] >= 40 << 20
    assert sha_tree(back) == sha_tree(src)
    # A differing file is kept unless --force.
    with open(os.path.join(back, "config.json"), "wb") as fh:
        fh.write(b"edited")
    refused = cli(lab, "pull", "node", f"{remote}/model", back)
    assert refused.returncode != 0 and "--force" in refused.stderr
    forced = cli(lab, "pull", "node", f"{remote}/model", back, "--force", "--json")
    assert forced.returncode == 0 and sha_tree(back) == sha_tree(src)
    shutil.rmtree(remote, ignore_errors=True)


async def test_a_python_older_than_38_is_named(lab: SshLab, node_state: str, workdir: str) -> None:
    # A stand-in interpreter that answers the probe the way a Python 3.6 would.
    fake = os.path.join(workdir, "python3.6")
    with open(fake, "w") as fh:
        fh.write(
            '#!/bin/sh\necho \'{"version": [3, 6, 9], "sha256": null, '
            '"executable": "/usr/bin/python3.6"}\'\n'
        )
    os.chmod(fake, 0o755)
    os.chmod(workdir, 0o755)
    with pytest.raises(RemotePythonTooOld) as err:
        await client(lab, node_state, python=fake).connect()
    assert "3.6.9" in err.value.message and "3.8" in err.value.message


async def test_the_console_trusts_each_hop_after_showing_its_fingerprint(
    lab: SshLab, node_state: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets import DataTable

    from rdt_tui.cli import host_actions, host_rows, make_client
    from rdt_tui.tui.app import make_console_app
    from rdt_tui.tui.confirm import Confirm
    from rdt_tui.tui.screens.hosts_screen import HostsScreen

    from .test_tui_dashboard import until

    cfg = os.path.join(lab.root, "cfg-console")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, "hosts.toml"), "w") as fh:
        fh.write(
            f'[[hosts]]\nname = "node"\npython = "{NODE_PYTHON}"\nstate_dir = "{node_state}"\n'
        )
    monkeypatch.setenv("RDT_TUI_SSH_CONFIG", lab.ssh_config)
    monkeypatch.setenv("RDT_TUI_CONFIG_DIR", cfg)
    monkeypatch.chdir(lab.root)
    os.unlink(lab.known_hosts)
    app = make_console_app(host_rows(), lambda name: make_client(name), actions=host_actions())
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, HostsScreen))
        hosts = app.screen
        assert isinstance(hosts, HostsScreen)
        await until(lambda: "Unknown host key" in hosts.status.get("node", ""), timeout=60)
        table = hosts.query_one(DataTable)
        table.move_cursor(row=table.get_row_index("node"))
        await pilot.press("t")
        await until(lambda: isinstance(app.screen, Confirm))
        assert fingerprint(lab.keys["jump"]) in app.screen.question  # type: ignore[attr-defined]
        await pilot.press("y")
        await until(
            lambda: (
                isinstance(app.screen, Confirm)
                and fingerprint(lab.keys["node"]) in app.screen.question
            ),
            timeout=60,
        )
        await pilot.press("y")
        await until(lambda: hosts.status.get("node") == "reachable", timeout=90)
    with open(lab.known_hosts) as fh:
        known = fh.read()
    for name in ("jump", "node"):
        assert lab.keys[name].split()[1] in known


def test_preflight_runs_on_the_node_and_its_fixes_apply_there(
    lab: SshLab, node_state: str, workdir: str
) -> None:
    write_cli_hosts(lab, node_state)
    node_dir = f"/tmp/rdt-pf-{uuid.uuid4().hex[:8]}"
    os.makedirs(os.path.join(node_dir, "data"))
    os.makedirs(os.path.join(node_dir, "configs"))
    local = os.path.join(workdir, "local")
    os.makedirs(local)
    for i in range(3):
        blob = os.urandom(200_000)
        for root in (os.path.join(node_dir, "data"), local):
            Path(root, f"ep{i}.hdf5").write_bytes(blob)
    Path(node_dir, "train.sh").write_text("#!/bin/sh\n")
    stats = os.path.join(node_dir, "configs", "dataset_stat.json")
    Path(stats).write_text('{"agilex": {"dataset_name": "agilex", "state_mean": [NaN]}}')
    os.chmod(stats, 0o444)  # read-only for the node's (non-root) user
    account = pwd.getpwnam(lab.user)
    for dirpath, _dirs, files in os.walk(node_dir):
        for name in [dirpath, *(os.path.join(dirpath, f) for f in files)]:
            os.chown(name, account.pw_uid, account.pw_gid)
    before = Path(stats).read_bytes()
    profile = os.path.join(workdir, "p.toml")
    Path(profile).write_text(
        f'command = ["./train.sh"]\ncwd = "{node_dir}"\n'
        f'[preflight]\npython = "{NODE_PYTHON}"\npackages = ["json"]\ncpu = true\n'
        f'hub = false\ndataset_dir = "data"\nlocal_dataset_dir = "{local}"\n'
        'stats_file = "configs/dataset_stat.json"\ndataset_name = "agilex"\n'
        'stats_keys = ["observations/qpos"]\nscript = "train.sh"\noutput_dir = "out"\n'
    )
    env = lab_env(lab, workdir)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rdt_tui.cli", *args],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
        )

    try:
        first = run("preflight", "node", "--profile", profile, "--json")
        checks = {c["id"]: c for c in json.loads(first.stdout)["checks"]}
        assert first.returncode == 1
        assert checks["stats"]["status"] == "fail" and "fix" not in checks["stats"]
        assert "read-only" in checks["stats"]["hint"] or "JSON" in checks["stats"]["detail"]
        assert checks["script"]["status"] == "fail" and checks["output"]["fix"]
        assert checks["dataset"]["status"] == "pass"
        for fix in ("script", "output"):
            done = run("preflight", "node", "--profile", profile, "--fix", fix)
            assert f"fixed {fix}" in done.stdout, done.stdout + done.stderr
        assert os.stat(os.path.join(node_dir, "train.sh")).st_mode & 0o100
        assert os.path.isdir(os.path.join(node_dir, "out"))
        refused = run("stats", "node", "--profile", profile)
        assert refused.returncode != 0 and "left unchanged" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert Path(stats).read_bytes() == before
        same = run("diff-dataset", "node", "--profile", profile, "--json")
        assert same.returncode == 0, same.stderr
        data = bytearray(Path(node_dir, "data", "ep1.hdf5").read_bytes())
        data[123_456] ^= 0x10
        Path(node_dir, "data", "ep1.hdf5").write_bytes(bytes(data))
        flipped = run("diff-dataset", "node", "--profile", profile, "--json")
        assert flipped.returncode == 1
        assert json.loads(flipped.stdout)["diff"]["different"] == ["ep1.hdf5"]
    finally:
        stop_daemon(env["RDT_TUI_STATE_DIR"])  # the local agent diff-dataset started
        shutil.rmtree(node_dir, ignore_errors=True)


RING_JOB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jobs", "ring.py")


def kill_node_rank(cmd: list[str], profile: str, env: dict[str, str], after_s: float):
    """Run `rdt-tui group --json` on ``profile``, SIGKILL the node's rank after ``after_s``;
    (exit code, the group's JSON report)."""
    group = subprocess.Popen(
        [*cmd, profile, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert group.stderr is not None
    first = group.stderr.readline()
    runs = dict(part.split("=") for part in first.split(": ", 1)[1].strip().split(", "))
    time.sleep(after_s)
    kill_run(runs["node"])  # the node's rank dies: a death, not a stop someone asked for
    out, _ = group.communicate(timeout=180)
    return group.returncode, json.loads(out)


def test_a_job_across_this_machine_and_the_node_through_the_jump(
    lab: SshLab, node_state: str, workdir: str
) -> None:
    write_cli_hosts(lab, node_state)
    shared = f"/tmp/rdt-ring-{uuid.uuid4().hex[:8]}"
    os.makedirs(shared)
    os.chmod(shared, 0o755)
    shutil.copy(RING_JOB, os.path.join(shared, "ring.py"))
    os.chmod(os.path.join(shared, "ring.py"), 0o644)
    port = free_port()

    def profile(steps: int) -> str:
        path = os.path.join(workdir, f"ring-{steps}.toml")
        Path(path).write_text(
            f'name = "ring"\nhosts = ["localhost", "node"]\nmain_process_port = {port}\n'
            f'command = ["/usr/bin/python3", "ring.py", "{{node_rank}}", "{{num_machines}}", '
            f'"{{main_process_ip}}", "{{main_process_port}}", "{steps}"]\ncwd = "{shared}"\n'
        )
        return path

    env = lab_env(lab, workdir)
    cmd = [sys.executable, "-m", "rdt_tui.cli", "group", "--profile"]
    try:
        done = subprocess.run(
            [*cmd, profile(20)], capture_output=True, text=True, timeout=180, env=env
        )
        assert done.returncode == 0, done.stdout + done.stderr
        for host in ("localhost", "node"):  # both ranks' points, merged, each with its host
            assert re.search(rf"^{host}\s+step\s+20\s+loss", done.stdout, re.M), done.stdout
        assert "exited (exit code 0)" in done.stdout
        # Kill the node's rank: this machine's rank is stopped (or fails) and the node is named.
        code, report = kill_node_rank(cmd, profile(100000), env, after_s=2)
        assert code == 1 and report["first_dead"] == "node", report
        assert report["final"]["localhost"]["status"] in ("stopped", "exited")
        assert report["final"]["localhost"].get("exit_code") != 0
    finally:
        stop_daemon(env["RDT_TUI_STATE_DIR"])
        shutil.rmtree(shared, ignore_errors=True)


NODE_VENV = f"/tmp/rdt-node-venv-{USER}"


def node_training_python() -> str:
    """An interpreter both this machine and the node's user can run, with the training extra
    and rdt_tui installed (the node user cannot read the test venv under /root)."""
    python = os.path.join(NODE_VENV, "bin", "python")
    stamp = os.path.join(NODE_VENV, ".rdt-ready")
    if not os.path.exists(stamp):
        shutil.rmtree(NODE_VENV, ignore_errors=True)
        subprocess.run([NODE_PYTHON, "-m", "venv", NODE_VENV], check=True)
        pip = [python, "-m", "pip", "install", "-q"]
        subprocess.run(
            [*pip, "torch==2.13.0", "accelerate", "numpy", "h5py", "safetensors", "tqdm"],
            check=True,
        )
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        subprocess.run([*pip, "--no-deps", repo], check=True)
        subprocess.run(["chmod", "-R", "a+rX", NODE_VENV], check=True)
        Path(stamp).touch()
    return python


@pytest.mark.slow
def test_the_demo_trainer_as_two_machines_this_one_and_the_node_behind_the_jump(
    lab: SshLab, node_state: str, workdir: str
) -> None:
    python = node_training_python()
    write_cli_hosts(lab, node_state)
    shared = f"/tmp/rdt-mn-{uuid.uuid4().hex[:8]}"
    os.makedirs(shared)
    os.chmod(shared, 0o777)
    from rdt_tui.config.demo import ensure_dataset

    ensure_dataset(shared)
    os.chmod(os.path.join(shared, "libero_demo.hdf5"), 0o644)

    def profile(steps: int, delay: float) -> str:
        path = os.path.join(workdir, f"mn-{steps}.toml")
        Path(path).write_text(
            f'name = "mn"\nhosts = ["localhost", "node"]\nmain_process_port = {free_port()}\n'
            f'command = ["{python}", "-m", "accelerate.commands.launch", "--multi_gpu", '
            '"--num_processes", "{total_processes}", "--num_machines", "{num_machines}", '
            '"--machine_rank", "{node_rank}", "--main_process_ip", "{main_process_ip}", '
            '"--main_process_port", "{main_process_port}", "--dynamo_backend", "no", '
            '"--mixed_precision", "no", "-m", "rdt_tui.demo.train", "--data", '
            '"libero_demo.hdf5", "--output-dir", "out-{node_rank}", '
            f'"--max-steps", "{steps}", "--checkpoint-every", "10", "--keep", "2", '
            f'"--step-delay", "{delay}"]\ncwd = "{shared}"\nmetric_format = "rdt"\n'
            '[env]\nACCELERATE_USE_CPU = "1"\nOMP_NUM_THREADS = "1"\n'
            f'HOME = "{shared}"\n[form]\nprocesses = 1\n'
        )
        return path

    env = lab_env(lab, workdir)
    cmd = [sys.executable, "-m", "rdt_tui.cli", "group", "--profile"]
    try:
        done = subprocess.run(
            [*cmd, profile(20, 0.0)], capture_output=True, text=True, timeout=300, env=env
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert re.search(r"^localhost\s+step\s+20\s+loss", done.stdout, re.M), done.stdout
        # Both machines trained: each rank saved its own random state at step 20.
        assert os.path.exists(os.path.join(shared, "out-0", "checkpoint-20", "random_states_0.pkl"))
        assert os.path.exists(os.path.join(shared, "out-1", "checkpoint-20", "random_states_1.pkl"))
        # Killing the node's group stops this machine's.
        code, report = kill_node_rank(cmd, profile(100000, 0.05), env, after_s=8)
        assert code == 1
        assert report["first_dead"] == "node" and not report["ok"], report
        assert report["final"]["localhost"]["status"] in ("stopped", "exited")
    finally:
        stop_daemon(env["RDT_TUI_STATE_DIR"])
        shutil.rmtree(shared, ignore_errors=True)
