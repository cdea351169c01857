"""What the alert engine knows of one run: how far it read, what it raised, the state of each
rule. Kept in ``runs/<id>/alerts-state.json``, so a restarted daemon neither repeats an alert
nor forgets a run."""

import asyncio
import collections
import json
import os
import sys
import time
from typing import Any, Deque, Dict, Optional, Set, Tuple

from ..core.alerts import IdleWatch, SpikeDetector, StallWatch
from .files import CorruptFile, read_json, write_json_atomic

SAVE_EVERY_S = 5.0


def log(message: str) -> None:
    sys.stderr.write(json.dumps({"t": time.time(), "msg": message}) + "\n")
    sys.stderr.flush()


class RunAlerts:
    """Where the engine got to in one run, and the state of each of its rules."""

    rules: Dict[str, Any]
    spikes: SpikeDetector
    stall: StallWatch
    idle: IdleWatch

    def __init__(self, run_id: str, run_dir: str, rules: Dict[str, Any]) -> None:
        self.run_id = run_id
        self.state_path = os.path.join(run_dir, "alerts-state.json")
        self.log_pos = 0
        self.log_restarts = 0  # the watcher's rotations + truncations of output.log seen
        self.log_finished = False  # the watcher had read output.log to its end when last asked
        self.metric_seq = 0
        self.ended = False
        self.done = False
        self.fresh = True  # never looked at before (no saved state)
        self.saved_at = 0.0
        self.dirty = False
        self.last_step: Optional[float] = None
        self.gpu_seq = 0
        self.raised: Dict[str, float] = {}
        self.disk_samples: Deque[Tuple[float, float]] = collections.deque()
        self.last_disk = 0.0
        self.apply(rules)

    def apply(self, rules: Dict[str, Any]) -> None:
        """New thresholds; what the rules learnt so far (recent losses, step times) is kept."""
        old: Optional[Tuple[SpikeDetector, StallWatch]] = None
        if hasattr(self, "rules"):
            old = (self.spikes, self.stall)
        self.rules = rules
        self.spikes = SpikeDetector(k=float(rules["spike_k"]), ratio=float(rules["spike_ratio"]))
        self.stall = StallWatch(float(rules["stall_min_s"]), float(rules["stall_factor"]))
        self.idle = IdleWatch(float(rules["idle_below"]), float(rules["idle_after_s"]))
        if old:
            self.spikes.recent.extend(old[0].recent)
            self.stall.times.extend(old[1].times)

    def load(self) -> bool:
        """Resume from the saved state; False when there is none."""
        try:
            data = read_json(self.state_path)
        except CorruptFile:
            data = None
        if not isinstance(data, dict):
            return False
        self.log_pos = int(data.get("log") or 0)
        self.metric_seq = int(data.get("metric") or 0)
        self.ended = self.done = bool(data.get("ended"))
        raised = data.get("raised")
        self.raised = dict(raised) if isinstance(raised, dict) else {}
        if self.metric_seq and not self.ended:
            # Steps came before the restart: a run hung across it is judged from now on.
            self.stall.feed(time.time())
        self.fresh = False
        return True

    def save(self, now: float, force: bool = False) -> None:
        if (self.dirty and now - self.saved_at >= SAVE_EVERY_S) or force:
            state = {
                "log": self.log_pos,
                "metric": self.metric_seq,
                "ended": self.ended,
                "raised": self.raised,  # so a restart repeats no once-per-run alert
            }
            write_json_atomic(self.state_path, state, durable=force)
            self.saved_at, self.dirty = now, False

    def once(self, kind: str, now: float, quiet_s: Optional[float] = None) -> bool:
        """True the first time ``kind`` is raised (again after ``quiet_s``, when given)."""
        last = self.raised.get(kind)
        if last is not None and (quiet_s is None or now - last < quiet_s):
            return False
        self.raised[kind] = now
        return True


class PollNews:
    """Which runs' watchers polled since the engine last looked (agent/alerting.py)."""

    def __init__(self) -> None:
        self._news: Set[str] = set()
        self._wake: Optional[asyncio.Future[None]] = None
        self._swept = 0.0  # when every run was last judged (time.monotonic)

    def polled(self, run_id: str) -> None:
        self._news.add(run_id)
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def next(self, sweep_s: float) -> Optional[Set[str]]:
        """The runs polled since the last call (waiting for one), or None (every run) once
        ``sweep_s`` has passed since the last None."""
        left = self._swept + sweep_s - time.monotonic()
        if not self._news and left > 0:
            loop = asyncio.get_event_loop()
            wake = self._wake = loop.create_future()
            timer = loop.call_later(left, _wake_up, wake)
            try:
                await wake
            finally:
                timer.cancel()
                self._wake = None
        news, self._news = self._news, set()
        if time.monotonic() - self._swept >= sweep_s:
            self._swept = time.monotonic()
            return None
        return news


def _wake_up(fut: "asyncio.Future[None]") -> None:
    if not fut.done():
        fut.set_result(None)
