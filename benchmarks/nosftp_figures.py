"""Figures for a node without SFTP, against the same node with it and against OpenSSH, on two
pairs of real sshd (jump + node) on loopback:

1. First deploy + hello (the node's agent cache emptied each time): over SFTP vs streamed over
   an exec channel.
2. Pull and push of one file through the jump: ours over SFTP, ours over exec channels, and
   OpenSSH's `scp -O` (the legacy protocol, the one that needs no SFTP) on the no-SFTP node.

Needs root (a test user, sshd) like tests/test_ssh_nosftp.py:
    python benchmarks/nosftp_figures.py [--mb 256]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
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


def transport(lab: SshLab, state: str) -> SshTransport:
    hops = HostBook(load_ssh_config(lab.ssh_config), []).chain("node")
    return SshTransport("node", hops, python=PY, state_dir=state)


async def first_deploy(lab: SshLab, state: str) -> float:
    shutil.rmtree(os.path.join(lab.home, ".cache", "rdt-tui"), ignore_errors=True)
    t0 = time.perf_counter()
    c = AgentClient(transport(lab, state))
    await c.connect()
    elapsed = time.perf_counter() - t0
    await c.close()
    return elapsed


async def ours(lab: SshLab, push: bool, local: str, remote: str) -> float:
    t = transport(lab, "/tmp/unused")
    t0 = time.perf_counter()
    await t.transfer(push, local, remote, True, lambda p: None)
    elapsed = time.perf_counter() - t0
    await t.close()
    return elapsed


def scp_legacy(lab: SshLab, src: str, dst: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        ["scp", "-O", "-q", "-F", lab.ssh_config, "-o", "BatchMode=yes", src, dst], check=True
    )
    return time.perf_counter() - t0


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=256)
    args = ap.parse_args()
    with_sftp, without = start_lab(), start_lab(node_sftp=False)
    state = f"/tmp/rdt-bench-nosftp-{uuid.uuid4().hex[:6]}"
    work = f"/tmp/rdt-bench-nosftp-work-{uuid.uuid4().hex[:6]}"
    remote = f"/tmp/rdt-bench-nosftp-node-{uuid.uuid4().hex[:6]}"
    os.makedirs(work)
    os.makedirs(remote)
    shutil.chown(remote, with_sftp.user)
    try:
        await first_deploy(with_sftp, state)  # the daemon starts once, outside the figures
        sftp_s = [await first_deploy(with_sftp, state) for _ in range(5)]
        exec_s = [await first_deploy(without, state) for _ in range(5)]
        a, b = statistics.median(sftp_s), statistics.median(exec_s)
        print(f"first deploy + hello over SFTP        : {a * 1000:7.1f} ms (median of 5)")
        print(f"first deploy + hello over exec channel: {b * 1000:7.1f} ms (median of 5)")
        print(f"ratio exec/SFTP: {b / a:.2f}x")
        big = os.path.join(remote, "big.bin")
        with open(big, "wb") as fh:
            for _ in range(args.mb):
                fh.write(os.urandom(1 << 20))
        shutil.chown(big, with_sftp.user)
        mb = float(args.mb)
        pull_sftp = await ours(with_sftp, False, os.path.join(work, "a.bin"), big)
        pull_exec = await ours(without, False, os.path.join(work, "b.bin"), big)
        pull_scp = scp_legacy(without, f"node:{big}", os.path.join(work, "c.bin"))
        print(
            f"pull {args.mb} MiB through the jump: ours/SFTP {mb / pull_sftp:7.1f} MiB/s, "
            f"ours/exec {mb / pull_exec:7.1f} MiB/s, scp -O {mb / pull_scp:7.1f} MiB/s; "
            f"exec/scp -O {pull_scp / pull_exec:.2f}x"
        )
        up = os.path.join(work, "a.bin")
        push_sftp = await ours(with_sftp, True, up, os.path.join(remote, "p1.bin"))
        push_exec = await ours(without, True, up, os.path.join(remote, "p2.bin"))
        push_scp = scp_legacy(without, up, f"node:{os.path.join(remote, 'p3.bin')}")
        print(
            f"push {args.mb} MiB through the jump: ours/SFTP {mb / push_sftp:7.1f} MiB/s, "
            f"ours/exec {mb / push_exec:7.1f} MiB/s, scp -O {mb / push_scp:7.1f} MiB/s; "
            f"exec/scp -O {push_scp / push_exec:.2f}x"
        )
    finally:
        for lab in (with_sftp, without):
            lab.stop()
            shutil.rmtree(lab.root, ignore_errors=True)
        stop_daemon(state)  # the one daemon both labs' node user ran: by its pid only
        for path in (state, work, remote):
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
