"""One watcher per run: follows its logs into metric points and watches its checkpoints.

The heavy part (reading and parsing log bytes) runs in a worker thread so the daemon's event
loop keeps answering; the points are numbered and stored back on the loop.
"""

import asyncio
import glob
import json
import os
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from ..core.alerts import ALERT_WORDS
from ..core.logtext import LogText
from ..core.metrics import MetricParser, MetricPoint
from ..core.parsed import ParsedPoints
from . import ckptscan
from .eventfiles import EventSource
from .follower import LogFollower
from .metricread import packed_since
from .metricstore import MetricStore
from .runs import RunStore
from .slurm import LIVE_STATES
from .supervise import AgentLog, on_the_tick, supervised
from .wake import wait_set

Points = Union[List[MetricPoint], ParsedPoints]
POLL_S = 1.0
# Until a run's first metric point (for at most FIRST_WINDOW_S): the first loss on the console
# should not wait for a whole poll period (a Slurm job starts whenever the scheduler says).
# Only while its logs move: one quiet for FIRST_QUIET_S (loading a dataset, waiting for GPUs)
# is polled every POLL_S, so a new line still shows within a second, and the next bytes bring
# the quick polls back.
FIRST_POLL_S = 0.2
FIRST_WINDOW_S = 120.0
FIRST_QUIET_S = 5.0
CURSOR_EVERY_S = 2.0
CKPT_EVERY_S = 5.0
MTIME_SLACK_S = 0.05
FATAL_KEEP = 32


class RunWatcher:
    def __init__(self, store: RunStore, run_id: str, log: Optional[AgentLog] = None) -> None:
        self.store = store
        self.log = log or AgentLog()
        self.run_id = run_id
        self.dir = store.run_dir(run_id)
        self.spec = store.spec(run_id)
        self.output_log = os.path.join(self.dir, "output.log")
        self.metrics = MetricStore(os.path.join(self.dir, "metrics"))
        cursor = self.metrics.load() or {}
        self.finished = bool(cursor.get("finished"))
        self._positions: Dict[str, Any] = cursor.get("files") or {}
        # log_files matches from before the run: (mtime, size) then. Taken at launch (the
        # spec's log_files_before), else (an adopted run) at the first look.
        self._before_run = _before_run(self.spec.get("log_files_before"))
        self.followers: Dict[str, LogFollower] = {}
        self.parsers: Dict[str, MetricParser] = {}
        self.summary: Dict[str, Any] = store.summary(run_id)
        self.checkpoints: Dict[str, Dict[str, Any]] = {}
        self.ckpt_events: List[Tuple[int, Dict[str, Any]]] = []
        self._waiters: List[asyncio.Future[None]] = []
        # Called with the run's id after each poll (the alert engine judges the run then).
        self.on_poll: Optional[Callable[[str], None]] = None
        self._task: Optional[asyncio.Task[None]] = None
        self._first_until = 0.0
        self._moved = False  # the last poll found the logs grown
        self._moved_at = 0.0  # when a poll last did (time.monotonic)
        self._read_to = -1  # the bytes taken from all its logs, at the last poll
        self._judged_at = 0.0  # when on_poll was last called (time.monotonic)
        self._last_cursor = 0.0
        self._cursor_said = ""  # the cursor last saved, as JSON
        self._last_ckpt = 0.0
        self._add_follower(self.output_log)
        # The alert engine's view of output.log (agent/alerting.py), so it need not read the
        # same bytes again: where this watcher started reading it, and per read that had a
        # fatal line, (offset after that read, the word, the first line with it). The last few.
        self.log_from = self.followers[self.output_log].offset
        self.fatal: List[Tuple[int, str, str]] = []
        # TensorBoard event files (agent/eventfiles.py): one merge per poll, beside the logs.
        self.events = EventSource(self.spec, cursor.get("events"))
        # The first look at log_files now: without a list from the launch, what it finds
        # older than the run is the past (a glob's cost, once).
        self._discover_logs()

    # ----- followers ---------------------------------------------------------------------
    def _add_follower(self, path: str, start: int = 0) -> None:
        pos = self._positions.get(path) or {}
        offset = int(pos.get("offset", start))
        keep = path == self.output_log  # the subscriptions send its lines from its reads
        self.followers[path] = LogFollower(path, pos.get("inode"), offset, keep_reads=keep)
        parser = MetricParser(str(self.spec.get("metric_format") or "auto"))
        parser.last_step = pos.get("last_step")
        last_bar = pos.get("last_bar")
        if isinstance(last_bar, list) and len(last_bar) == 2:
            parser._last_bar = (last_bar[0], [tuple(p) for p in last_bar[1]])
        self.parsers[path] = parser

    def _discover_logs(self) -> None:
        """Extra log files named by the launch (globs pick their newest match), among the
        files written since the run was launched: at launch the newest match of a Hydra run
        directory glob is the *previous* run's log, and its points are not this run's.

        A match listed at launch, before the job started (for an adopted run: one that the
        first look finds older than the run), is the past: it is skipped while it stays as it
        was, and if the run appends to it (a FileHandler in append mode) it is read from the
        size it had. A match that appears later is new whatever its time says (a file
        server's clock may lag ours)."""
        cwd = self.spec.get("cwd") or "/"
        # File times come from the kernel's coarse clock, a tick behind time.time().
        since = float(self.spec.get("created_at") or 0) - MTIME_SLACK_S
        first_look = self._before_run is None
        before: Dict[str, Tuple[float, int]] = self._before_run or {}
        self._before_run = before
        for pattern in self.spec.get("log_files") or []:
            full = os.path.join(cwd, os.path.expanduser(pattern))
            newest, newest_t = None, -1.0
            for path in glob.glob(full):
                try:
                    st = os.stat(path)
                except OSError:
                    continue  # gone between the glob and now
                if first_look and st.st_mtime < since:
                    before[path] = (st.st_mtime, st.st_size)
                    continue
                if before.get(path) == (st.st_mtime, st.st_size):
                    continue  # the previous run's file, untouched
                if st.st_mtime > newest_t:
                    newest, newest_t = path, st.st_mtime
            if newest is not None and newest not in self.followers:
                self._add_follower(newest, before.get(newest, (0.0, 0))[1])

    def _read_logs(self, final: bool) -> Tuple["Points", bool]:
        """Runs in a worker thread: new points from every followed file."""
        self._discover_logs()
        points = ParsedPoints()  # runs of tqdm bars as columns, for the store to take whole
        more_any = False
        for path, follower in self.followers.items():
            lines, more = follower.read_text()
            if final and not more:
                lines.add_lines(follower.finish())
            points.add(self.parsers[path].parse_points(lines))
            if path == self.output_log and lines:
                self._note_fatal(lines, follower.offset)
            more_any = more_any or more
        points, more_events = self.events.merge(points, MetricPoint, final)
        return points, more_any or more_events

    def _note_fatal(self, lines: LogText, end: int) -> None:
        found = lines.first_with(ALERT_WORDS)
        if found is not None:
            word, line = found
            self.fatal.append((end, word, line))
            del self.fatal[:-FATAL_KEEP]

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

    def metric_columns(
        self, seq: int, limit: int, packed: bool = False
    ) -> Tuple[Dict[str, Any], int]:
        """The store's points after ``seq``, each series saying its source (log or events);
        ``packed``: as ``wire.pack_column`` packs them (a client that asked for that)."""
        if packed:
            columns, last = packed_since(self.metrics, seq, limit)
        else:
            columns, last = self.metrics.since(seq, limit)
        for name, col in columns["series"].items():
            col["source"] = self.events.source(name)
        return columns, last

    # ----- the loop ----------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._moved_at = time.monotonic()
            self._first_until = self._moved_at + FIRST_WINDOW_S
            # Supervised: a failed poll (out of descriptors, disk full, a bug) is logged and
            # the loop starts again from where the watcher's state says, never ends silently.
            name = f"watcher of {self.run_id}"
            self._task = asyncio.get_event_loop().create_task(
                supervised(name, self._loop, self.log)
            )

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
                cursor = self._cursor()
                # Unchanged (a quiet run): not written again, unless records wait on a disk.
                said = json.dumps(cursor, sort_keys=True, default=str)
                if said != self._cursor_said or self.finished or self.metrics.write_error:
                    self.metrics.save_cursor(cursor)
                    self._cursor_said = said
                self._last_cursor = now
            self.notify()
            tick = time.monotonic()
            news = points or ckpt_events or self.finished or self._moved
            if self.on_poll is not None and (news or tick - self._judged_at >= POLL_S):
                # At most once a POLL_S when nothing moved: quick early polls of a quiet run
                # do not each run the alert rules.
                self._judged_at = tick
                self.on_poll(self.run_id)
            if self.finished:
                self.metrics.close()
                for follower in self.followers.values():
                    follower.close()
                return
            if not more:
                await asyncio.sleep(on_the_tick(self.interval(tick), tick))

    def interval(self, now: float) -> float:
        """The wait before the next poll (``now``: time.monotonic): FIRST_POLL_S before the
        run's first point, within FIRST_WINDOW_S of the start, while its logs moved within
        FIRST_QUIET_S; POLL_S otherwise."""
        early = not self.metrics.last_seq and now < self._first_until
        return FIRST_POLL_S if early and now - self._moved_at < FIRST_QUIET_S else POLL_S

    def _poll(self) -> Tuple["Points", bool, bool, List[Dict[str, Any]]]:
        """Runs in a worker thread: the run's status, new metric points, checkpoint changes."""
        self.summary = self.store.summary(self.run_id)
        ended = self.summary["status"] not in LIVE_STATES
        points, more = self._read_logs(ended)
        done = ended and not more
        read_to = sum(f.read_to for f in self.followers.values())
        self._moved, self._read_to = read_to != self._read_to, read_to
        if self._moved:
            self._moved_at = time.monotonic()
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

    def listen(self, fut: "asyncio.Future[None]") -> None:
        """``fut`` gets a result at the end of the next poll (unless it is done by then)."""
        self._waiters.append(fut)

    async def wait(self, timeout: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_event_loop().create_future()
        self._waiters.append(fut)
        await wait_set(fut, timeout)  # not wait_for: a cancel must end the wait (wake.py)

    async def until_finished(self) -> None:
        while not self.finished:
            await self.wait(1.0)


def _before_run(listed: Any) -> Optional[Dict[str, Tuple[float, int]]]:
    """The spec's ``log_files_before`` ({path: [mtime, size]}, agent/runspec.py) as the
    watcher compares it, or None (a run launched by an older agent, an adopted one)."""
    if not isinstance(listed, dict):
        return None
    try:
        return {str(p): (float(v[0]), int(v[1])) for p, v in listed.items()}
    except (TypeError, ValueError, IndexError):
        return None
