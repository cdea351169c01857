"""AgentClient: the typed async API over a transport (``protocol.messages`` types).

The link (requests, replies, reconnects, subscriptions) is ``link.py``; this module names each
operation and the type of its answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from ..core.metrics import keep_latest
from ..protocol import wire
from ..protocol.messages import (
    Alerts,
    Candidate,
    Checkpoints,
    GpuSamples,
    History,
    LogChunk,
    LogSearch,
    LogTail,
    Manifest,
    ManifestProgress,
    MetricColumnsWire,
    MetricsPage,
    NotifyState,
    Point,
    PreflightFacts,
    Queue,
    RunSummary,
    StatsResult,
)
from ..transport.base import Disconnected
from .link import (
    CONNECTED,
    DEFAULT_TIMEOUT_S,
    LONG_OP_S,
    METRICS_WAIT_S,
    AgentCallError,
    AgentLink,
    AgentTimeout,
)
from .subscription import Subscription

__all__ = [
    "CONNECTED",
    "LONG_OP_S",
    "AgentCallError",
    "AgentClient",
    "AgentTimeout",
    "Subscription",
]


class AgentClient(AgentLink):
    """The one API the console and the headless CLI use: each operation's answer typed."""

    # ----- typed operations --------------------------------------------------------------
    async def runs(self) -> list[RunSummary]:
        return list(await self.call("runs"))

    async def status(self, run: str, progress: bool = False) -> RunSummary:
        """The run's summary; with ``progress``, also ``metrics_seq`` (its last metric seq)."""
        args: dict[str, Any] = {"run": run}
        if progress:
            args["progress"] = True
        result: RunSummary = await self.call("status", args)
        return result

    async def launch(
        self,
        argv: list[str],
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        **options: Any,
    ) -> RunSummary:
        """Start a run. A request key makes a retry after a dropped link return the run the
        first attempt started instead of starting a second one."""
        args: dict[str, Any] = {"argv": argv, "cwd": cwd, "env": env or {}}
        args.update({k: v for k, v in options.items() if v is not None})
        return await self.launch_args(args)

    async def launch_args(self, args: dict[str, Any]) -> RunSummary:
        args = dict(args)
        args.setdefault("request_key", uuid.uuid4().hex)
        for attempt in range(3):
            try:
                result: RunSummary = await self.call("launch", args)
                return result
            except Disconnected:
                if not self.reconnect or attempt == 2:
                    raise
                await self.wait_connected(self.give_up_after)
        raise AssertionError("unreachable")

    async def stop(self, run: str, grace: float = 30.0, signal: str | None = None) -> RunSummary:
        args: dict[str, Any] = {"run": run, "grace": grace}
        if signal:
            args["signal"] = signal
        result: RunSummary = await self.call("stop", args, timeout=grace + 120)
        return result

    async def tail(self, run: str, lines: int = 50) -> LogTail:
        result: LogTail = await self.call("tail", {"run": run, "lines": lines})
        return result

    async def log(self, run: str, since: int = 0, limit: int = 1 << 20) -> LogChunk:
        result: LogChunk = await self.call("log", {"run": run, "since": since, "limit": limit})
        return result

    async def log_search(
        self,
        run: str,
        pattern: str | list[str],
        offset: int = 0,
        backward: bool = False,
        limit: int = 1,
        regex: bool = False,
        budget_s: float = 5.0,
    ) -> LogSearch:
        """Lines of the run's log holding ``pattern`` (a list: any of these words), searched
        on the node from byte ``offset``. One call searches for at most ``budget_s`` seconds; when
        ``done`` is false, call again from ``next`` to go on."""
        args: dict[str, Any] = {
            "run": run,
            "offset": offset,
            "direction": "backward" if backward else "forward",
            "limit": limit,
            "regex": regex,
            "budget_s": budget_s,
        }
        args["words" if isinstance(pattern, list) else "pattern"] = pattern
        timeout = budget_s + DEFAULT_TIMEOUT_S
        result: LogSearch = await self.call("log_search", args, timeout=timeout)
        return result

    async def metrics(
        self, run: str, since: int = 0, limit: int = 100000, wait_ended: bool = False
    ) -> MetricsPage:
        """Points after ``since`` (``"points"``, in seq order) and ``"last_seq"``.

        With ``wait_ended``, a run that has ended answers once its logs are fully parsed."""
        args: dict[str, Any] = {"run": run, "since": since, "limit": limit, "packed": True}
        if wait_ended:
            args["wait"] = "ended"
        timeout = METRICS_WAIT_S if wait_ended else DEFAULT_TIMEOUT_S
        page: MetricColumnsWire = await self.call("metrics", args, timeout=timeout)
        return {
            "points": wire.expand_points(page),
            "last_seq": int(page.get("last_seq") or 0),
            "finished": bool(page.get("finished")),
            "problems": list(page.get("problems") or []),
        }

    async def all_metrics(self, run: str, wait_ended: bool = True) -> list[Point]:
        """Every point of a run, paged; a repaint of a step that a later page holds replaces
        the earlier point (``keep_latest``), so the list is one point per name and step."""
        points: list[Point] = []
        since = 0
        while True:
            page = await self.metrics(run, since, wait_ended=wait_ended)
            points.extend(page["points"])
            if page["last_seq"] == since:
                return keep_latest(points)
            since = page["last_seq"]

    async def history(self, run: str, points: int = 500, names: list[str] | None = None) -> History:
        args = {"run": run, "points": points, "names": names}
        result: History = await self.call("history", args)
        return result

    async def checkpoints(self, run: str) -> Checkpoints:
        result: Checkpoints = await self.call("checkpoints", {"run": run})
        return result

    async def candidates(self) -> list[Candidate]:
        """Training processes of this user on the host that no run of ours holds (started
        by hand in tmux or under nohup): pid, argv, cwd, log (None when stdout is no file)."""
        return list((await self.call("candidates"))["candidates"])

    async def adopt(self, pid: int, log: str | None = None, **options: Any) -> RunSummary:
        """Make process ``pid`` (and its tree) a run: its log followed from the start, its
        checkpoints listed, stop over its processes. Options: name, profile, checkpoint_dir,
        checkpoint_globs, log_files, event_files, metric_format, metric_source, stop_signal,
        alerts (a profile's launch arguments fit). Adopting it again returns the same run."""
        args: dict[str, Any] = {"pid": pid, "log": log}
        args.update({k: v for k, v in options.items() if v is not None})
        result: RunSummary = await self.call("adopt", args)
        return result

    async def gpus(self, limit: int = 1) -> GpuSamples:
        result: GpuSamples = await self.call("gpus", {"limit": limit})
        return result

    async def preflight(
        self, params: dict[str, Any], cwd: str | None, env: dict[str, str], timeout: float
    ) -> PreflightFacts:
        """The node's facts for the preflight rules (``core.preflight.evaluate``)."""
        args = {"params": params, "cwd": cwd, "env": env}
        result: PreflightFacts = await self.call("preflight", args, timeout=timeout)
        return result

    async def manifest(self, path: str, glob: str, key: str) -> Manifest:
        """The MD5 manifest of directory ``path`` (``manifest_progress(key)`` meanwhile)."""
        args = {"path": path, "glob": glob, "key": key}
        result: Manifest = await self.call("manifest", args, timeout=LONG_OP_S)
        return result

    async def manifest_progress(self, key: str) -> ManifestProgress:
        result: ManifestProgress = await self.call("manifest_progress", {"key": key})
        return result

    async def stats(self, args: dict[str, Any], timeout: float = LONG_OP_S) -> StatsResult:
        """A dataset's statistics computed on the node (``write``: saved after its checks)."""
        result: StatsResult = await self.call("stats", args, timeout=timeout)
        return result

    async def queue(self) -> Queue:
        """This user's Slurm jobs on the host (``scheduler`` None where it has no Slurm)."""
        result: Queue = await self.call("queue", {})
        return result

    async def alerts(
        self, since_t: float = 0.0, unseen: bool = False, mark_seen: bool = False
    ) -> Alerts:
        """Alerts kept on the node, oldest first (``unseen``: only those no console has shown
        yet; ``mark_seen``: this console shows them, so the next attach does not again)."""
        args = {"since_t": since_t, "unseen": unseen, "mark_seen": mark_seen}
        result: Alerts = await self.call("alerts", args)
        return result

    async def notify(self, settings: dict[str, Any]) -> NotifyState:
        """Set the node's webhook (``notify``) and alert rules (``rules``); ``test``: post a
        test alert. Keys left out keep what the node has."""
        result: NotifyState = await self.call("notify", settings)
        return result

    async def push(
        self,
        local: str,
        remote: str,
        force: bool = False,
        report: Callable[[Any], None] | None = None,
    ) -> Any:
        """Copy a file or directory to the host (resumable, hash-checked)."""
        return await self.transport.transfer(True, local, remote, force, report or _ignore)

    async def pull(
        self,
        remote: str,
        local: str,
        force: bool = False,
        report: Callable[[Any], None] | None = None,
    ) -> Any:
        """Copy a file or directory from the host (resumable, hash-checked)."""
        return await self.transport.transfer(False, local, remote, force, report or _ignore)


def _ignore(_: Any) -> None:
    pass
