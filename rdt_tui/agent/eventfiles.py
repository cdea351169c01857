"""A run's TensorBoard event files, followed into metric points (the watcher's second source).

The profile's ``event_files`` globs (relative to the run's cwd, ``**`` allowed) name the files;
only files written since the run was launched count, so a previous run's files in the same
``logs/`` are not this run's. Each directory is one TensorBoard run, its files read in name
order (the name carries the writer's start time): a resumed job's second file continues the
first. Series names are the tags of the first directory found; a tag of another directory
(``add_scalars`` writes one per key, ``logs/loss_train/``) is prefixed with its path from there.
"""

import glob
import os
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from ..core.parsed import ParsedPoints
from .tfevents import Purge, RunScalars, decode_event
from .tfrecord import RecordReader

MTIME_SLACK_S = 0.05  # file times come from the kernel's coarse clock
# A `**` glob walks a tree: look for new files this often, not at every poll.
DISCOVER_EVERY_S = 3.0
READ_LIMIT = 1 << 20  # per file per poll: a gigabyte to catch up on does not stall the logs


class EventFiles:
    def __init__(
        self, cwd: str, patterns: List[str], since: float, cursor: Optional[Dict[str, Any]] = None
    ) -> None:
        self.cwd = cwd
        # escape: a cwd holding [ or * names itself, not a pattern
        self.patterns = [os.path.join(glob.escape(cwd), os.path.expanduser(p)) for p in patterns]
        self.since = since - MTIME_SLACK_S
        cursor = cursor or {}
        self.main_dir: Optional[str] = cursor.get("main")
        self.readers: Dict[str, RecordReader] = {}
        for path, pos in (cursor.get("files") or {}).items():
            self.readers[path] = RecordReader(path, pos.get("inode"), int(pos.get("offset", 0)))
        self.runs: Dict[str, RunScalars] = {
            d: RunScalars(state) for d, state in (cursor.get("dirs") or {}).items()
        }
        self.problems: List[str] = []
        self._discovered = -DISCOVER_EVERY_S
        self._cut: Set[str] = set()  # files whose torn tail was reported when the run ended
        # The names each directory gave, in order (a purge of a restart covers them all).
        self.tags: Dict[str, Dict[str, None]] = {
            d: dict.fromkeys(names) for d, names in (cursor.get("tags") or {}).items()
        }

    def cursor(self) -> Dict[str, Any]:
        return {
            "main": self.main_dir,
            "files": {p: {"inode": r.inode, "offset": r.offset} for p, r in self.readers.items()},
            "dirs": {d: run.state() for d, run in self.runs.items()},
            "tags": {d: list(names) for d, names in self.tags.items()},
        }

    def _discover(self) -> None:
        for pattern in self.patterns:
            for path in glob.glob(pattern, recursive=True):
                if path in self.readers:
                    continue
                try:
                    if os.stat(path).st_mtime < self.since:
                        continue  # an earlier run's file
                except OSError:
                    continue
                self.readers[path] = RecordReader(path)
        if self.main_dir is None and self.readers:
            # The shallowest directory: a tracker's own, not one of add_scalars' subdirectories.
            self.main_dir = min(
                (os.path.dirname(p) for p in self.readers), key=lambda d: (d.count(os.sep), d)
            )

    def name(self, directory: str, tag: str) -> str:
        if directory == self.main_dir or self.main_dir is None:
            return tag
        rel = os.path.relpath(directory, self.main_dir)
        return f"{rel}/{tag}"

    def poll(
        self, limit: int = READ_LIMIT, final: bool = False
    ) -> Tuple[List[Tuple[str, float, int]], List[Tuple[List[str], int, int]], bool]:
        """New scalar points ``(name, value, step)`` of every file, the purges they imply
        (``(names, step, at)``: points of ``names`` at or after ``step`` given before
        ``points[at]`` are orphaned), and whether bytes remain."""
        now = time.monotonic()
        if final or now - self._discovered >= DISCOVER_EVERY_S:
            self._discover()
            self._discovered = now
        points: List[Tuple[str, float, int]] = []
        purges: List[Tuple[List[str], int, int]] = []
        more_any = False
        for path in sorted(self.readers, key=lambda p: (os.path.dirname(p), p)):
            reader = self.readers[path]
            records, more = reader.read(limit)
            more_any = more_any or more
            if final and not more and reader.size > reader.offset and path not in self._cut:
                self._cut.add(path)
                self.problems.append(
                    f"{path}: the last {reader.size - reader.offset} bytes are a record cut "
                    "short (its writer stopped mid-record): not read"
                )
            self.problems.extend(reader.problems)
            reader.problems.clear()
            directory = os.path.dirname(path)
            run = self.runs.get(directory)
            if run is None:
                run = self.runs[directory] = RunScalars()
            for data in records:
                try:
                    ev = decode_event(data)
                except ValueError as exc:
                    self.problems.append(f"{path}: a record is not an event ({exc}): skipped")
                    continue
                new, purge = run.add(ev)
                if purge is not None:
                    names, step = self._purge_names(directory, purge)
                    purges.append((names, step, len(points)))
                seen = self.tags.setdefault(directory, {})
                for tag, step, value, _wall in new:
                    name = self.name(directory, tag)
                    seen[name] = None
                    points.append((name, value, step))
        return points, purges, more_any

    def _purge_names(self, directory: str, purge: Purge) -> Tuple[List[str], int]:
        if purge.tags is None:
            return list(self.tags.get(directory, ())), purge.step
        return [self.name(directory, t) for t in purge.tags], purge.step


MAX_PROBLEMS = 50


def source_rule(value: Any) -> Dict[str, str]:
    """The launch's ``metric_source`` as ``{name or "default": "events" | "log"}``; a string
    is the default for every name. Unknown words are refused by the launch (runs.py)."""
    if isinstance(value, str):
        return {"default": value}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {"default": "events"}


class EventSource:
    """The watcher's event-file side: one ``merge`` per poll joins the event points to the
    log's, deciding per name which source feeds a series.

    A name that both the log and the event files give is fed by the winner its rule names
    (``events`` unless the profile says otherwise); the other source feeds it only while the
    winner has not given it. Points already stored stay, so a series can begin with the log's
    points and go on with the event file's exact ones.
    """

    def __init__(self, spec: Dict[str, Any], cursor: Optional[Dict[str, Any]] = None) -> None:
        cursor = cursor or {}
        self.rule = source_rule(spec.get("metric_source"))
        self.sources: Dict[str, str] = dict(cursor.get("sources") or {})
        self.problems: List[str] = list(cursor.get("problems") or [])
        patterns = [str(p) for p in spec.get("event_files") or []]
        self.files: Optional[EventFiles] = None
        if patterns:
            self.files = EventFiles(
                str(spec.get("cwd") or "/"),
                patterns,
                float(spec.get("created_at") or 0),
                cursor.get("files"),
            )

    def source(self, name: str) -> str:
        return self.sources.get(name, "log")

    def _winner(self, name: str) -> str:
        return self.rule.get(name, self.rule.get("default", "events"))

    def _accept(self, name: str, source: str) -> bool:
        winner = self._winner(name)
        current = self.sources.get(name)
        if current is None or source == winner:
            self.sources[name] = source
            return True
        return current == source  # the loser, while the winner has not given this name

    def merge(self, log_points: Any, make: Any, final: bool = False) -> Tuple[Any, bool]:
        """The points to store this poll: the log's and the event files' (built with
        ``make(name, value, step)``), each name from its source; and whether bytes remain.
        ``final``: the run has ended, look for new files now."""
        if isinstance(log_points, ParsedPoints):  # bars as columns: judged per name
            if self.files is None and all(self._accept(n, "log") for n in log_points.names()):
                return log_points, False
            log_points = log_points.to_list()
        if self.files is None:
            return [p for p in log_points if self._accept(p[0], "log")], False
        points, purges, more = self.files.poll(final=final)
        drop: Set[int] = set()
        for names, step, at in purges:
            self._report(
                f"steps went back to {step} (a restarted writer): TensorBoard drops the points "
                f"of {len(names)} names at or after it; a later point of a step replaces its "
                "earlier one"
            )
            gone = set(names)
            # Orphans read in this same poll are not stored at all.
            drop.update(i for i in range(at) if points[i][0] in gone and points[i][2] >= step)
        if drop:
            points = [p for i, p in enumerate(points) if i not in drop]
        for problem in self.files.problems:
            self._report(problem)
        self.files.problems.clear()
        # A name both give in the same poll is the winner's at once.
        both = {p[0] for p in points} & {p[0] for p in log_points}
        for name in both:
            self._accept(name, self._winner(name))
        out = [make(n, v, s) for n, v, s in points if self._accept(n, "events")]
        out.extend(p for p in log_points if self._accept(p[0], "log"))
        return out, more

    def _report(self, problem: str) -> None:
        self.problems.append(problem)
        del self.problems[:-MAX_PROBLEMS]

    def cursor(self) -> Dict[str, Any]:
        return {
            "sources": self.sources,
            "problems": self.problems,
            "files": self.files.cursor() if self.files is not None else None,
        }
