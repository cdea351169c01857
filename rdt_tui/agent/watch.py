"""One watcher per run: follows its logs into metric points and watches its checkpoints.

The heavy part (reading and parsing log bytes) runs in a worker thread so the daemon's event
loop keeps answering; the points are numbered and stored back on the loop.
"""

import asyncio
import glob
import os
import time
from typing import Any, Dict, List, Optional, Tuple

from ..core.metrics import MetricParser, MetricPoint
from . import ckptscan
from .eventfiles import EventSource
from .follower import LogFollower
from .metricstore import MetricStore
from .runs import RUNNING, RunStore

POLL_S = 1.0
CURSOR_EVERY_S = 2.0
CKPT_EVERY_S = 5.0


class RunWatcher:
    def __init__(self, store: RunStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.dir = store.run_dir(run_id)
        self.spec = store.spec(run_id)
        self.output_log = os.path.join(self.dir, "output.log")
        self.metrics = MetricStore(os.path.join(self.dir, "metrics"))
        cursor = self.metrics.load() or {}
        self.finished = bool(cursor.get("finished"))
        self._positions: Dict[str, Any] = cursor.get("files") or {}
        self.followers: Dict[str, LogFollower] = {}
        self.parsers: Dict[str, MetricParser] = {}
        self.summary: Dict[str, Any] = store.summary(run_id)
        self.checkpoints: Dict[str, Dict[str, Any]] = {}
        self.ckpt_events: List[Tuple[int, Dict[str, Any]]] = []
        self._waiters: List[asyncio.Future[None]] = []
        self._task: Optional[asyncio.Task[None]] = None
        self._last_cursor = 0.0
        self._last_ckpt = 0.0
        self._add_follower(self.output_log)
        # TensorBoard event files (agent/eventfiles.py): one merge per poll, beside the logs.
        self.events = EventSource(self.spec, cursor.get("events"))

    # ----- followers ---------------------------------------------------------------------
    def _add_follower(self, path: str) -> None:
        pos = self._positions.get(path) or {}
        self.followers[path] = LogFollower(path, pos.get("inode"), int(pos.get("offset", 0)))
        parser = MetricParser(str(self.spec.get("metric_format") or "auto"))
        parser.last_step = pos.get("last_step")
        last_bar = pos.get("last_bar")
        if isinstance(last_bar, list) and len(last_bar) == 2:
            parser._last_bar = (last_bar[0], [tuple(p) for p in last_bar[1]])
        self.parsers[path] = parser

    def _discover_logs(self) -> None:
        """Extra log files named by the launch (globs pick their newest match)."""
        cwd = self.spec.get("cwd") or "/"
        for pattern in self.spec.get("log_files") or []:
            full = os.path.join(cwd, os.path.expanduser(pattern))
            matches = sorted(
                glob.glob(full), key=lambda p: os.path.getmtime(p) if os.path.exists(p) else 0
            )
            if matches and matches[-1] not in self.followers:
                self._add_follower(matches[-1])

    def _read_logs(self, final: bool) -> Tuple[List[MetricPoint], bool]:
        """Runs in a worker thread: new points from every followed file."""
        self._discover_logs()
        points: List[MetricPoint] = []
        more_any = False
        for path, follower in self.followers.items():
            lines, more = follower.read()
            if final and not more:
                lines.extend(follower.finish())
            points.extend(self.parsers[path].parse_lines(lines))
            more_any = more_any or more
        points, more_events = self.events.merge(points, MetricPoint, final)
        return points, more_any or more_events

    def _cursor(self) -> Dict[str, Any]:
        files = {}
        for path, follower in self.followers.items():
            parser = self.parsers[path]
            inode, offset = follower.position()
            files[path] = {
                "inode": inode,
                "offset": offset,
                "last_step": parser.last_step,
                "last_bar": parser._last_bar,
            }
        return {"files": files, "finished": self.finished, "events": self.events.cursor()}

    def metric_columns(self, seq: int, limit: int) -> Tuple[Dict[str, Any], int]:
        """The store's points after ``seq``, each series saying its source (log or events)."""
        columns, last = self.metrics.since(seq, limit)
        for name, col in columns["series"].items():
            col["source"] = self.events.source(name)
        return columns, last

    # ----- the loop ----------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_event_loop().create_task(self._loop())

    async def _loop(self) -> None:
        loop = asyncio.get_event_loop()
        while True:
            # One trip to the worker thread per poll: each trip costs a wake-up of the loop.
            points, more, done, ckpt_events = await loop.run_in_executor(None, self._poll)
            now = time.time()
            if points:
                self.metrics.append(points, now)
            for event in ckpt_events:
                self.ckpt_events.append((len(self.ckpt_events) + 1, event))
            # Set here, after the last points are stored: a subscriber that sees `finished`
            # must find everything already in the store.
            self.finished = done
            if self.finished or now - self._last_cursor >= CURSOR_EVERY_S:
                self.metrics.save_cursor(self._cursor())
                self._last_cursor = now
            self.notify()
            if self.finished:
                self.metrics.close()
                for follower in self.followers.values():
                    follower.close()
                return
            if not more:
                await asyncio.sleep(POLL_S)

    def _poll(self) -> Tuple[List[MetricPoint], bool, bool, List[Dict[str, Any]]]:
        """Runs in a worker thread: the run's status, new metric points, checkpoint changes."""
        self.summary = self.store.summary(self.run_id)
        ended = self.summary["status"] != RUNNING
        points, more = self._read_logs(ended)
        done = ended and not more
        events: List[Dict[str, Any]] = []
        now = time.time()
        if now - self._last_ckpt >= CKPT_EVERY_S or done:
            # expanduser: a run recorded before the agent expanded `~` itself
            directory = os.path.expanduser(
                self.spec.get("checkpoint_dir") or self.spec.get("cwd") or "/"
            )
            found = ckptscan.scan(directory, self.spec.get("checkpoint_globs") or ())
            events = ckptscan.diff(self.checkpoints, found)
            self.checkpoints = {c["path"]: c for c in found}
            self._last_ckpt = now
        return points, more, done, events

    # ----- waiting for news --------------------------------------------------------------
    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait(self, timeout: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_event_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            pass

    async def until_finished(self) -> None:
        while not self.finished:
            await self.wait(1.0)
