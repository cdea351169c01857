"""A 1 GiB training log, written once under /tmp and kept, and a run of the real agent that
has it as its output.log (the log view's tests and benchmarks/log_search.py share both).

The log: a head with a Traceback and a needle twice, 1 MiB blocks of step lines, and a tail
with the needle once more and 100 numbered lines. Offsets of the planted lines are computed,
not searched for, so a test checks the agent's search against the layout itself.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

from rdt_tui.client import AgentClient

PATH = "/tmp/rdt-tui-test-log-1g.log"
NEEDLE = "NEEDLE-alpha-42"
BLOCKS = 1024


@dataclass
class BigLog:
    path: str
    size: int
    first_line: str
    traceback_at: int  # byte offset of the Traceback line
    needles: list[int]  # byte offsets of the lines holding NEEDLE, in order
    last_line: str


def _layout() -> tuple[bytes, bytes, bytes]:
    head = [f"boot line {i}: loading shards" for i in range(200)]
    head[50] = "Traceback (most recent call last):"
    head[51] = '  File "train.py", line 12, in <module>'
    head[52] = "RuntimeError: boom"
    head[120] = f"found {NEEDLE} here"
    head[150] = f"found {NEEDLE} again"
    lines: list[str] = []
    n = 0
    while n < 1 << 20:
        line = f"step={len(lines)} loss={1 / (len(lines) + 1):.6f} lr=0.0001 " + "x" * 40
        lines.append(line)
        n += len(line) + 1
    block = ("\n".join(lines) + "\n").encode()[: 1 << 20]
    block = block[: block.rfind(b"\n") + 1]
    tail = [f"found {NEEDLE} near the end"] + [f"tail line {i}" for i in range(100)]
    return ("\n".join(head) + "\n").encode(), block, ("\n".join(tail) + "\n").encode()


def big_log() -> BigLog:
    """The log, written if missing (about a second into the page cache)."""
    head, block, tail = _layout()
    size = len(head) + BLOCKS * len(block) + len(tail)
    if not (os.path.exists(PATH) and os.path.getsize(PATH) == size):
        tmp = PATH + f".{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(head)
            for _ in range(BLOCKS):
                fh.write(block)
            fh.write(tail)
        os.replace(tmp, PATH)  # never a half-written log reused
    heads = head.split(b"\n")
    at = [sum(len(x) + 1 for x in heads[:i]) for i in (50, 120, 150)]
    return BigLog(
        PATH,
        size,
        "boot line 0: loading shards",
        at[0],
        [at[1], at[2], len(head) + BLOCKS * len(block)],
        "tail line 99",
    )


async def run_with_log(client: AgentClient, state_dir: str, path: str) -> str:
    """A run of the real agent, ended, whose output.log is ``path`` (a hard link: no copy).
    The run's watcher has finished before the swap, so the agent does not parse the GiB."""
    run = await client.launch([sys.executable, "-c", "print('short run')"], cwd="/tmp")
    for _ in range(600):
        if (await client.status(run["id"]))["status"] != "running":
            break
        await asyncio.sleep(0.05)
    await client.metrics(run["id"], wait_ended=True)
    log = os.path.join(state_dir, "runs", run["id"], "output.log")
    try:
        os.link(path, log + ".big")
    except OSError:  # another file system: the agent reads through a symbolic link as well
        os.symlink(path, log + ".big")
    os.replace(log + ".big", log)
    return str(run["id"])
