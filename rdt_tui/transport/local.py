"""LocalTransport: the agent on this machine, reached through a subprocess's stdio."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any

from ..protocol.wire import MAX_LINE
from .base import Disconnected, Transport


class LocalTransport(Transport):
    def __init__(
        self, state_dir: str | None = None, simulate_gpus: int = 0, python: str | None = None
    ) -> None:
        self.host = "localhost"
        self.state_dir = state_dir
        self.simulate_gpus = simulate_gpus
        self.python = python or sys.executable
        self._proc: asyncio.subprocess.Process | None = None

    def argv(self) -> list[str]:
        argv = [self.python, "-m", "rdt_tui.agent"]
        if self.state_dir:
            argv += ["--state-dir", self.state_dir]
        return [*argv, "attach", "--simulate-gpus", str(self.simulate_gpus)]

    async def open(self) -> None:
        env = dict(os.environ)
        self._proc = await asyncio.create_subprocess_exec(
            *self.argv(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
            limit=MAX_LINE,
        )

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def readline(self) -> bytes:
        if self._proc is None or self._proc.stdout is None:
            return b""
        try:
            return await self._proc.stdout.readline()
        except (ConnectionError, ValueError):
            return b""

    async def write(self, data: bytes) -> None:
        if self._proc is None or self._proc.stdin is None:
            raise Disconnected("the local agent is not running")
        try:
            self._proc.stdin.write(data)
            await self._proc.stdin.drain()
        except (ConnectionError, BrokenPipeError) as exc:
            raise Disconnected(f"the local agent went away: {exc}") from None

    async def transfer(
        self, push: bool, local: str, remote: str, force: bool, report: Callable[[Any], None]
    ) -> Any:
        from .local_side import LocalSide
        from .transfer import Progress, copy_tree

        # `~/x` is the home's x, as over SSH (never a folder named `~` here); a relative
        # path is this directory's, as `launch --cwd` on this machine.
        remote = os.path.expanduser(remote)
        src, dst = (local, remote) if push else (remote, local)
        return await copy_tree(LocalSide(), src, LocalSide(), dst, force, Progress(), report)

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 3.0)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
