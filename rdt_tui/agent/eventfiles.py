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
from typing import Any, Dict, List, Optional, Tuple

from .tfevents import Purge, RunScalars, decode_event
from .tfrecord import RecordReader

MTIME_SLACK_S = 0.05  # file times come from the kernel's coarse clock
READ_LIMIT = 8 << 20


class EventFiles:
    def __init__(
        self, cwd: str, patterns: List[str], since: float, cursor: Optional[Dict[str, Any]] = None
    ) -> None:
        self.cwd = cwd
        self.patterns = [os.path.join(cwd, os.path.expanduser(p)) for p in patterns]
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
        self.wall_times: Dict[str, float] = {}  # each name's last wall time
        # The names each directory gave, in order (a purge of a restart covers them all).
        self.tags: Dict[str, Dict[str, None]] = {
            d: dict.fromkeys(names) for d, names in (cursor.get("tags") or {}).items()
        }

    def cursor(self) -> Dict[str, Any]:
        return {
            "main": self.main_dir,
            "files": {
                p: {"inode": r.inode, "offset": r.offset} for p, r in self.readers.items()
            },
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
        self, limit: int = READ_LIMIT
    ) -> Tuple[List[Tuple[str, float, int]], List[Tuple[List[str], int, int]], bool]:
        """New scalar points ``(name, value, step)`` of every file, the purges they imply
        (``(names, step, at)``: points of ``names`` at or after ``step`` given before
        ``points[at]`` are orphaned), and whether bytes remain."""
        self._discover()
        points: List[Tuple[str, float, int]] = []
        purges: List[Tuple[List[str], int, int]] = []
        more_any = False
        for path in sorted(self.readers, key=lambda p: (os.path.dirname(p), p)):
            reader = self.readers[path]
            records, more = reader.read(limit)
            more_any = more_any or more
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
                for tag, step, value, wall in new:
                    name = self.name(directory, tag)
                    seen[name] = None
                    points.append((name, value, step))
                    self.wall_times[name] = wall
        return points, purges, more_any

    def _purge_names(self, directory: str, purge: Purge) -> Tuple[List[str], int]:
        if purge.tags is None:
            return list(self.tags.get(directory, ())), purge.step
        return [self.name(directory, t) for t in purge.tags], purge.step
