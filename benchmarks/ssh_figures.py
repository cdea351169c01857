"""SSH figures against OpenSSH in the same script, on two real sshd (jump + node) on loopback.

1. Connect through the jump + hello, agent already deployed, vs `ssh -J`-style
   `ssh -F cfg node true` (ProxyJump from the config). Target: ours <= 1.0x theirs.
   Ours includes resolving the route from the ssh config (rdt_tui/config/sshconfig.py, the
   same path as the CLI and console), printed on its own too. Timed three ways, so the
   comparison is fair: ours inside this running process (what the console pays), ours as a
   new `rdt-tui check-host` process (interpreter start-up and imports included, as OpenSSH's
   two new processes are), and both with the key exchange forced to curve25519-sha256
   (OpenSSH otherwise negotiates a heavier post-quantum one).
2. Pull of a 1 GiB file through the jump vs `scp` through the same jump, both timed from
   before the connection to the end (scp's time holds its two handshakes, ours holds ours),
   alternated, median of three. Target: >= 0.8x.
3. Reconnect after the node's sshd session is killed, until the stream flows again.
   Target: under 2 s on loopback.

Needs root (a test user, sshd) like tests/test_ssh.py:  python benchmarks/ssh_figures.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import stop_daemon
from rdt_tui.client import AgentClient
from rdt_tui.config.hosts import HostBook
from rdt_tui.config.sshconfig import load_ssh_config
from rdt_tui.transport.ssh import SshTransport
from tests.sshd import SshLab, start_lab

PY = "/usr/bin/python3"


def resolve_route(lab: SshLab) -> float:
    t0 = time.perf_counter()
    HostBook(load_ssh_config(lab.ssh_config), []).chain("node")
    return time.perf_counter() - t0


KEX: list[str] = []  # empty: asyncssh's defaults; set to force one key exchange


def client(lab: SshLab, state: str, reconnect: bool = False) -> AgentClient:
    hops = HostBook(load_ssh_config(lab.ssh_config), []).chain("node")
    transport = SshTransport("node", hops, python=PY, state_dir=state)
    if KEX:
        options = transport.connector._options
        transport.connector._options = lambda hop: {**options(hop), "kex_algs": KEX}  # type: ignore[method-assign]
    return AgentClient(transport, reconnect=reconnect)


def check_host_process(lab: SshLab) -> float:
    """``rdt-tui check-host node`` as a new process: start-up and imports included."""
    env = dict(
        os.environ,
        RDT_TUI_SSH_CONFIG=lab.ssh_config,
        RDT_TUI_CONFIG_DIR=os.path.join(lab.root, "cfg"),
    )
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", "check-host", "node"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    return time.perf_counter() - t0


def hosts_entry(lab: SshLab, state: str) -> None:
    """The node in check-host's hosts file, with this benchmark's state directory: its
    daemon is the one the in-process client uses, and no default directory is touched."""
    cfg = os.path.join(lab.root, "cfg")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, "hosts.toml"), "w") as fh:
        fh.write(f'[[hosts]]\nname = "node"\npython = "{PY}"\nstate_dir = "{state}"\n')


async def connect_hello(lab: SshLab, state: str) -> float:
    t0 = time.perf_counter()
    c = client(lab, state)
    await c.connect()
    elapsed = time.perf_counter() - t0
    await c.close()
    return elapsed


def openssh_true(lab: SshLab, kex: str = "", command: str = "true") -> float:
    # ProxyJump starts a second ssh: -o reaches only the first, so the jump's ssh gets the
    # same KexAlgorithms through an environment-free config copy.
    config = lab.ssh_config
    if kex:
        config = os.path.join(lab.root, "ssh_config_kex")
        with open(lab.ssh_config) as src, open(config, "w") as dst:
            dst.write(f"Host *\n    KexAlgorithms {kex}\n" + src.read())
    t0 = time.perf_counter()
    subprocess.run(["ssh", "-F", config, "-o", "BatchMode=yes", "node", command], check=True)
    return time.perf_counter() - t0


async def pull_figure(
    lab: SshLab, state: str, size_mb: int, rounds: int = 3
) -> tuple[float, float, float]:
    remote_dir = f"/tmp/rdt-bench-pull-{uuid.uuid4().hex[:6]}"
    os.makedirs(remote_dir)
    src = os.path.join(remote_dir, "big.bin")
    with open(src, "wb") as fh:
        for _ in range(size_mb):
            fh.write(os.urandom(1 << 20))
    shutil.chown(src, lab.user)
    local = f"/tmp/rdt-bench-local-{uuid.uuid4().hex[:6]}"
    os.makedirs(local)
    try:
        ours, theirs = [], []
        for _ in range(rounds):  # alternated: the page cache and the load treat both alike
            t0 = time.perf_counter()
            subprocess.run(
                [
                    "scp",
                    "-q",
                    "-F",
                    lab.ssh_config,
                    "-o",
                    "BatchMode=yes",
                    f"node:{src}",
                    os.path.join(local, "scp.bin"),
                ],
                check=True,
            )
            scp_s = time.perf_counter() - t0
            t0 = time.perf_counter()  # from before our connection too, as scp's handshakes
            c = client(lab, state)
            await c.connect()
            await c.pull(src, os.path.join(local, "ours.bin"))
            ours_s = time.perf_counter() - t0
            await c.close()
            for name in ("scp.bin", "ours.bin"):
                os.unlink(os.path.join(local, name))
            ours.append(ours_s)
            theirs.append(scp_s)
        t0 = time.perf_counter()
        subprocess.run(["sha256sum", src], check=True, stdout=subprocess.PIPE)
        sha_s = time.perf_counter() - t0
        return statistics.median(ours), statistics.median(theirs), sha_s
    finally:
        shutil.rmtree(remote_dir, ignore_errors=True)
        shutil.rmtree(local, ignore_errors=True)


WRITER = (
    "import sys, time\n"
    "for i in range(1, 100000):\n"
    "    print(f'step={i} loss={1/i:.6f}', flush=True)\n"
    "    time.sleep(0.01)\n"
)


async def reconnect_figure(lab: SshLab, state: str) -> list[float]:
    c = client(lab, state, reconnect=True)
    await c.connect()
    run = (await c.launch([PY, "-c", WRITER], cwd="/tmp"))["id"]
    sub = await c.subscribe(run, gpu=False)
    figures = []
    for _ in range(5):
        for _ in range(20):  # the stream is flowing
            await sub.next(10)
        killed_at = time.perf_counter()
        for pid in lab.node.session_pids():
            os.kill(pid, signal.SIGKILL)
        while True:  # drain what was already on its way, then wait for the new link
            ev = await sub.next(30)
            if c.reconnects and ev["event"] == "metric":
                break
        figures.append(time.perf_counter() - killed_at)
        await asyncio.sleep(0.5)
        before = c.reconnects
        assert before >= len(figures)
    await c.stop(run, grace=1)
    await c.close()
    return figures


async def print_pull(lab: SshLab, state: str, size_mb: int, rounds: int) -> None:
    pull_s, scp_s, sha_s = await pull_figure(lab, state, size_mb, rounds)
    mb = float(size_mb)
    print(
        f"pull {size_mb} MiB through jump, connection setup included on both sides, "
        f"median of {rounds}: ours {mb / pull_s:7.1f} MiB/s, scp {mb / scp_s:7.1f} "
        f"MiB/s; ratio {scp_s / pull_s:.2f}x  (target >= 0.8x)"
    )
    print(
        f"  ours also checks SHA-256 at both ends (scp checks nothing); `sha256sum` of the "
        f"file alone takes {sha_s:.1f} s here, and on loopback both ends share these cores"
    )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pull-mb", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3, help="pulls of each side (median)")
    ap.add_argument("--connect-only", action="store_true", help="only the first figure")
    ap.add_argument("--pull-only", action="store_true", help="only the pull figure")
    args = ap.parse_args()
    lab = start_lab()
    state = f"/tmp/rdt-bench-node-{uuid.uuid4().hex[:6]}"
    hosts_entry(lab, state)
    try:
        await connect_hello(lab, state)  # deploys the agent and starts its daemon
        if args.pull_only:
            await print_pull(lab, state, args.pull_mb, args.rounds)
            return
        rows = []
        for kex in ("", "curve25519-sha256"):
            KEX[:] = [kex] if kex else []
            ours = statistics.median([await connect_hello(lab, state) for _ in range(7)])
            theirs = statistics.median([openssh_true(lab, kex) for _ in range(7)])
            rows.append((kex or "each side's default", ours, theirs))
        KEX[:] = []
        process = statistics.median([check_host_process(lab) for _ in range(5)])
        # What our hello also pays on the node: the agent's `attach` is a Python start there.
        python = statistics.median(
            [openssh_true(lab, "curve25519-sha256", f"{PY} -c pass") for _ in range(7)]
        )
        for kex, o, t in rows:
            print(
                f"connect through jump + hello, key exchange {kex}: ours in a running process "
                f"{o * 1000:.0f} ms, `ssh -F cfg node true` {t * 1000:.0f} ms (medians of 7) "
                f"-> {o / t:.2f}x  (target <= 1.0x)"
            )
        t = rows[0][2]
        print(
            f"`rdt-tui check-host node` as a new process (interpreter start-up and imports "
            f"included, like OpenSSH's two processes; it also asks for the GPUs and runs): "
            f"{process * 1000:.0f} ms (median of 5) -> {process / t:.2f}x OpenSSH"
        )
        print(
            f"  OpenSSH starting the node's Python as our attach does (`ssh node {PY} -c "
            f"pass`, curve25519): {python * 1000:.0f} ms -> ours/that {rows[1][1] / python:.2f}x"
        )
        r = statistics.median([resolve_route(lab) for _ in range(7)])
        print(f"  of which resolving the route from the ssh config: {r * 1000:.2f} ms")
        if args.connect_only:
            return
        await print_pull(lab, state, args.pull_mb, args.rounds)
        figures = await reconnect_figure(lab, state)
        print(
            f"reconnect until the stream flows again: median "
            f"{statistics.median(figures) * 1000:.0f} ms, max {max(figures) * 1000:.0f} ms "
            f"over {len(figures)} kills  (target < 2 s)"
        )
    finally:
        lab.stop()
        stop_daemon(state)  # only what this benchmark started: its daemon, by pid
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(lab.root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
