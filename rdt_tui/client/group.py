"""One training job across several nodes: a run per host, each through that host's agent,
with the distributed runtime the project already uses (accelerate or torchrun rendezvous at
``main_process_ip:main_process_port``). The console starts the ranks, merges their events,
and stops the others when one node's group dies (unless the profile says otherwise)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..launch.plan import PlanProfile
from ..protocol.messages import Event, RunSummary
from .agent_client import AgentClient

COLLATERAL_S = 1.0
NO_STATUS: Mapping[str, Any] = {}  # a host whose run has not said how it ended
OnEvent = Callable[[str, Event], None]  # (host, event)


@dataclass
class GroupReport:
    group: str
    runs: dict[str, str]  # host -> run id
    final: dict[str, RunSummary] = field(default_factory=dict)  # host -> last status
    first_dead: str | None = None  # the host whose group ended first, badly
    stopped: list[str] = field(default_factory=list)  # hosts the console stopped after that
    # hosts whose run someone asked to stop (the console's s, `rdt-tui stop`): not deaths
    stopped_by_user: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(
            f.get("status") == "exited" and f.get("exit_code") == 0 for f in self.final.values()
        )

    def summary(self) -> str:
        lines = []
        for host, run in self.runs.items():
            f = self.final.get(host) or NO_STATUS
            lines.append(f"{host}: {run} {f.get('status')} (exit code {f.get('exit_code')})")
        if self.first_dead:
            f = self.final.get(self.first_dead) or NO_STATUS
            lines.append(
                f"{self.first_dead} died first ({f.get('status')}, exit code "
                f"{f.get('exit_code')}); stopped: {', '.join(self.stopped) or 'none'}"
            )
        elif self.stopped_by_user:
            others = [h for h in self.stopped if h not in self.stopped_by_user]
            lines.append(
                f"stopped as asked on {', '.join(self.stopped_by_user)}"
                + (f"; stopped with it: {', '.join(others)}" if others else "")
            )
        return "\n".join(lines)


async def launch_group(
    clients: dict[str, AgentClient], profile: PlanProfile, values: dict[str, Any] | None = None
) -> GroupReport:
    """A run per host, rank 0 first (it hosts the rendezvous)."""
    if len(clients) < 2:
        raise ValueError("a multi-node job needs at least two hosts")
    group = f"{profile.name}-{uuid.uuid4().hex[:8]}"
    runs: dict[str, str] = {}
    try:
        for rank, (host, client) in enumerate(clients.items()):
            args = profile.launch_args(dict(values or {}, node_rank=rank))
            args.update(group=group, name=f"{profile.name}-node{rank}")
            runs[host] = str((await client.launch_args(args))["id"])
    except BaseException:
        # A node that refused: the ranks already started would wait for it forever.
        for host, run in runs.items():
            await clients[host].stop(run, grace=5)
        raise
    return GroupReport(group, runs)


async def watch_group(
    clients: dict[str, AgentClient],
    report: GroupReport,
    stop_together: bool = True,
    on_event: OnEvent | None = None,
    grace: float = 10.0,
) -> GroupReport:
    """Follow every rank until all have ended; when one ends badly first, stop the others."""
    queue: asyncio.Queue[tuple[str, Event]] = asyncio.Queue()

    async def pump(host: str) -> None:
        sub = await clients[host].subscribe(report.runs[host], gpu=False)
        async for ev in sub:
            await queue.put((host, ev))
            if ev["event"] == "status" and ev["data"].get("complete"):
                return

    tasks = [asyncio.ensure_future(pump(host)) for host in report.runs]
    settled = False
    try:
        while len(report.final) < len(report.runs):
            host, ev = await queue.get()
            if on_event is not None:
                on_event(host, ev)
            if ev["event"] != "status" or not ev["data"].get("complete"):
                continue
            report.final[host] = ev["data"]
            status = ev["data"].get("status")
            asked = status == "stopped" and host not in report.stopped
            if asked and report.first_dead is None:
                report.stopped_by_user.append(host)
            # A stop someone asked for is not a death; nor is what it makes the others do.
            bad = not (status == "exited" and ev["data"].get("exit_code") == 0)
            bad = bad and not asked and not report.stopped_by_user
            if bad and report.first_dead is None:
                report.first_dead = host
            if (bad or asked) and not settled:
                settled = True  # the others are stopped once, whoever ended first
                if stop_together:
                    others = [h for h in report.runs if h not in report.final]
                    results = await asyncio.gather(
                        *(clients[h].stop(report.runs[h], grace=grace) for h in others)
                    )
                    # Only those still running count as stopped by us; one that had ended
                    # already (its status not here yet) may be the node that died first.
                    report.stopped = [
                        h
                        for h, r in zip(others, results, strict=True)
                        if not r.get("already_ended")
                    ]
    finally:
        for task in tasks:
            task.cancel()
    # Which node died first by the nodes' own clocks (the shim's ended_at), not by which
    # status reached us first. A rank killed by a signal (OOM killer, a stop, a crash) wins a
    # near tie: the others then fail on the broken ring within milliseconds, by themselves.
    died: dict[str, float] = {
        h: float(f.get("ended_at") or 0.0) - (COLLATERAL_S if f.get("signal") else 0.0)
        for h, f in report.final.items()
        if not (f.get("status") == "exited" and f.get("exit_code") == 0)
        and h not in report.stopped
        and f.get("status") != "stopped"
    }
    if report.stopped_by_user:
        # Only a node that died before the asked-for stop died of its own; after it, the
        # others fail on the broken ring because of the stop.
        asked_at = min(
            float(report.final[h].get("ended_at") or 0.0) for h in report.stopped_by_user
        )
        died = {h: t for h, t in died.items() if t < asked_at - COLLATERAL_S}
    if died:
        report.first_dead = min(died, key=lambda h: died[h])
    return report
