"""A launch's checks of the node's disk (its cwd, the checkpoint it resumes from, its log globs)
run in a worker thread: a cwd on a hung file server held the daemon's whole loop (every
console, every run's watcher) for as long as the server did."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from rdt_tui.agent import service as service_mod
from rdt_tui.agent.service import AgentService
from rdt_tui.protocol import errors
from rdt_tui.protocol.errors import AgentError

pytestmark = pytest.mark.asyncio


async def test_the_launch_checks_leave_the_loop_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_ran = threading.Event()

    def hung_disk(args: dict[str, Any]) -> dict[str, Any]:
        # The disk answers once the loop has run a task: never, if this runs on the loop.
        answered = loop_ran.wait(10)
        raise AgentError(errors.BAD_REQUEST, "on the loop" if not answered else "checked")

    monkeypatch.setattr(service_mod, "validate_launch", hung_disk)
    service = AgentService(str(tmp_path), [])
    launch = asyncio.ensure_future(service.op_launch({"argv": ["true"], "cwd": "/nfs/hung"}))
    await asyncio.sleep(0)  # the launch starts its checks
    loop_ran.set()  # a task on the loop: it runs only if the checks do not hold the loop
    with pytest.raises(AgentError, match="checked"):
        await asyncio.wait_for(launch, 60)
