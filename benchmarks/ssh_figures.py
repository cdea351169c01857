"""SSH figures against OpenSSH in the same script, on two real sshd (jump + node) on loopback.

1. Connect through the jump + hello, agent already deployed, vs `ssh -J`-style
   `ssh -F cfg node true` (ProxyJump from the config). Target: ours <= 1.0x theirs.
   Ours includes resolving the route from the ssh config (rdt_tui/config/sshconfig.py, the
   same path as the CLI and console), printed on its own too.
2. Pull of a 1 GB file through the jump vs `scp` through the same jump. Target: >= 0.8x.
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


def client(lab: SshLab, state: str, reconnect: bool = False) -> AgentClient:
    hops = HostBook(load_ssh_config(lab.ssh_config), []).chain("node")
    return AgentClient(SshTransport("node", hops, python=PY, state_dir=state), reconnect=reconnect)


async def connect_hello(lab: SshLab, state: str) -> float:
    t0 = time.perf_counter()
    c = client(lab, state)
    await c.connect()
    elapsed = time.perf_counter() - t0
    await c.close()
    return elapsed


def openssh_true(lab: SshLab) -> float:
    t0 = time.perf_counter()
    subprocess.run(["ssh", "-F", lab.ssh_config, "-o", "BatchMode=yes", "node", "true"], check=True)
    return time.perf_counter() - t0


async def pull_figure(lab: SshLab, state: str, size_mb: int) -> tuple[float, float]:
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
        c = client(lab, state)
        await c.connect()
        t0 = time.perf_counter()
        await c.pull(src, os.path.join(local, "ours.bin"))
        ours_s = time.perf_counter() - t0
        await c.close()
        return ours_s, scp_s
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


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pull-mb", type=int, default=1024)
    ap.add_argument("--connect-only", action="store_true", help="only the first figure")
    args = ap.parse_args()
    lab = start_lab()
    state = f"/tmp/rdt-bench-node-{uuid.uuid4().hex[:6]}"
    try:
        await connect_hello(lab, state)  # deploys the agent and starts its daemon
        ours = [await connect_hello(lab, state) for _ in range(7)]
        theirs = [openssh_true(lab) for _ in range(7)]
        o, t = statistics.median(ours), statistics.median(theirs)
        print(f"connect through jump + hello : {o * 1000:7.1f} ms (median of 7)")
        print(f"ssh -F cfg node true (OpenSSH): {t * 1000:7.1f} ms (median of 7)")
        print(f"ratio ours/OpenSSH: {o / t:.2f}x  (target <= 1.0x)")
        r = statistics.median([resolve_route(lab) for _ in range(7)])
        print(f"  of which resolving the route from the ssh config: {r * 1000:.2f} ms")
        if args.connect_only:
            return
        pull_s, scp_s = await pull_figure(lab, state, args.pull_mb)
        mb = float(args.pull_mb)
        print(
            f"pull {args.pull_mb} MiB through jump: ours {mb / pull_s:7.1f} MiB/s, "
            f"scp {mb / scp_s:7.1f} MiB/s; ratio {scp_s / pull_s:.2f}x  (target >= 0.8x)"
        )
        figures = await reconnect_figure(lab, state)
        print(
            f"reconnect until the stream flows again: median "
            f"{statistics.median(figures) * 1000:.0f} ms, max {max(figures) * 1000:.0f} ms "
            f"over {len(figures)} kills  (target < 2 s)"
        )
    finally:
        lab.stop()
        subprocess.run(["pkill", "-KILL", "-u", lab.user], check=False)
        shutil.rmtree(lab.root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
