"""The rules behind the dashboard's alerts, kept apart from the screen so they can be tested.

Each rule looks at numbers only: a loss spike, a GPU lagging its peers, all GPUs idle while
the run lives, and when the disk will be full at the rate it is filling.
"""

import math
import time
from collections import deque
from statistics import median
from typing import Any, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

# Words in a run's log worth an alert while the run trains.


def log_alert(text: str, stopping: bool) -> Optional[str]:
    """The alert a chunk of log raises; none once a stop was asked for: the traceback of the
    KeyboardInterrupt, torch's shutdown and NCCL teardown lines are what a stop makes a job
    print, not news."""
    if stopping:
        return None
    return fatal_word(text)


def ended_text(final: Mapping[str, Any]) -> Tuple[str, bool]:
    """How a run's end is worded, and whether it is bad news. A stop someone asked for is
    said as such, whatever exit code the signal gave."""
    status, code = final.get("status"), final.get("exit_code")
    if final.get("exit_code_known") is False:  # adopted: started outside rdt-tui
        return (
            f"{'stopped as asked' if status == 'stopped' else status} "
            "(exit code unknown: it was not started by rdt-tui)"
        ), False
    if status == "stopped":
        return f"stopped as asked (exit code {code})", False
    if status == "exited":
        return (
            (f"finished (exit code {code})", False)
            if code == 0
            else (
                f"failed (exit code {code})",
                True,
            )
        )
    return f"{status} (exit code {code})", True


class SpikeDetector:
    """A value far above the recent ones. Robust to noise: the threshold is the median of the
    last ``window`` values plus ``k`` times their median absolute deviation, and at least
    ``ratio`` times the median, so a noisy but healthy loss never trips it. The threshold is
    recomputed every ``every`` values (two medians of 200 values cost more than a point is
    worth at thousands of points a second)."""

    def __init__(
        self,
        window: int = 200,
        k: float = 10.0,
        ratio: float = 2.0,
        warmup: int = 20,
        every: int = 25,
    ):
        self.recent: Deque[float] = deque(maxlen=window)
        self.k = k
        self.ratio = ratio
        self.warmup = warmup
        self.every = every
        self._threshold: Optional[float] = None
        self._fed = 0

    def threshold(self) -> Optional[float]:
        if len(self.recent) < self.warmup:
            return None
        if self._threshold is None or self._fed >= self.every:
            mid = median(self.recent)
            mad = median([abs(v - mid) for v in self.recent])
            self._threshold = max(mid + self.k * mad, self.ratio * abs(mid), mid)
            self._fed = 0
        return self._threshold

    def feed(self, value: float) -> bool:
        if not math.isfinite(value):
            return False  # NaN and Inf are their own alert
        limit = self.threshold()
        if limit is not None and value > limit:
            return True  # a spike stays out of the baseline, so a run of them is reported
        self.recent.append(value)
        self._fed += 1
        return False

    def feed_many(self, values: Sequence[float]) -> List[int]:
        """Indices of the spikes among ``values``, as ``feed`` on each but with one threshold
        for the whole batch: the agent gets points by the thousand at 1000 lines a second,
        and a median per 25 of them would cost more than the rest of its work."""
        limit = self.threshold()
        if math.isfinite(sum(values)) and (limit is None or max(values, default=0.0) <= limit):
            self.recent.extend(values)  # no NaN, no spike (the usual batch): C loops only
            self._fed += len(values)
            return []
        spikes = []
        for i, value in enumerate(values):
            if not math.isfinite(value):
                continue
            if limit is not None and value > limit:
                spikes.append(i)
            else:
                self.recent.append(value)
                self._fed += 1
        return spikes


def laggards(utils: Dict[int, float], gap: float = 25.0, busy: float = 50.0) -> List[int]:
    """GPUs whose recent mean utilisation is ``gap`` points below the median of the others,
    when the others are busy (a run that idles as a whole is not a lag)."""
    if len(utils) < 2:
        return []
    out = []
    for index, util in utils.items():
        others = [u for i, u in utils.items() if i != index]
        mid = median(others)
        if mid >= busy and util < mid - gap:
            out.append(index)
    return sorted(out)


class IdleWatch:
    """True once every GPU has stayed under ``below`` percent for ``after_s`` seconds."""

    def __init__(self, below: float = 5.0, after_s: float = 60.0):
        self.below = below
        self.after_s = after_s
        self._since: Optional[float] = None

    def feed(self, t: float, utils: Sequence[Optional[float]]) -> bool:
        known = [u for u in utils if u is not None]
        if not known or any(u >= self.below for u in known):
            self._since = None
            return False
        if self._since is None:
            self._since = t
        return t - self._since >= self.after_s


def seconds_until_full(samples: Sequence[Tuple[float, float]]) -> Optional[float]:
    """From (time, free bytes) samples, oldest first: seconds until free reaches zero at the
    rate between the first and the last sample, or None when the disk is not filling."""
    if len(samples) < 2:
        return None
    (t0, f0), (t1, f1) = samples[0], samples[-1]
    if t1 <= t0 or f1 >= f0:
        return None
    rate = (f0 - f1) / (t1 - t0)
    return f1 / rate


# ----- rules shared by the console's dashboard and the node's agent ---------------------------

# Lines that mean the job is in trouble, whatever the metrics say.
ALERT_WORDS = ("Traceback", "CUDA out of memory", "OutOfMemoryError", "NCCL", "Watchdog caught")


def fatal_word(text: str, words: Sequence[str] = ALERT_WORDS) -> Optional[str]:
    """The first of ``words`` found in ``text`` (a chunk of log), or None."""
    return next((w for w in words if w in text), None)


def nonfinite_label(value: float) -> Optional[str]:
    """``"NaN"`` or ``"Inf"`` for a value that is not a number, else None."""
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Inf"
    return None


class StallWatch:
    """A run whose steps stopped coming while its processes live (the NCCL hang: every GPU at
    100%, the log silent). Fed with the times new steps arrived; stalled once nothing came
    for max(``min_s``, ``factor`` x the median interval between steps). Before the first step
    nothing is judged: loading a dataset can take long and prints no step."""

    def __init__(self, min_s: float = 600.0, factor: float = 5.0, window: int = 50):
        self.min_s = min_s
        self.factor = factor
        self.times: Deque[float] = deque(maxlen=window)

    def feed(self, t: float) -> None:
        self.times.append(t)

    def threshold(self) -> float:
        gaps = [b - a for a, b in zip(self.times, list(self.times)[1:])]
        return max(self.min_s, self.factor * median(gaps)) if gaps else self.min_s

    def silent_for(self, now: float) -> Optional[float]:
        """Seconds since the last step when that is past the threshold, else None."""
        if not self.times:
            return None
        quiet = now - self.times[-1]
        return quiet if quiet >= self.threshold() else None


def checkpoint_does_not_fit(sizes: Sequence[float], free: Optional[float]) -> bool:
    """The next checkpoint (as large as the last one) needs more than the free space."""
    return bool(sizes) and free is not None and sizes[-1] > free


def full_before_next_checkpoint(
    full_in: Optional[float], checkpoint_times: Sequence[float], now: float
) -> bool:
    """At the rate the disk fills, it is full before the next checkpoint is due (due one
    median interval after the last one; no judgement with fewer than two checkpoints)."""
    if full_in is None or len(checkpoint_times) < 2:
        return False
    times = sorted(checkpoint_times)
    every = median([b - a for a, b in zip(times, times[1:])])
    due_in = max(0.0, times[-1] + every - now)
    return full_in < due_in


def near_time_limit(time_left_s: Optional[float], warn_s: float) -> bool:
    """A scheduler job (Slurm) with less than ``warn_s`` seconds of its time limit left
    (``time_left_s``: the Slurm supervisor's ``time_left``, None for any other run)."""
    return time_left_s is not None and time_left_s < warn_s


# Every rule and threshold, with its default; a user's settings and a profile's ``[alerts]``
# table override them key by key (see docs/profiles.md).
DEFAULT_RULES: Dict[str, object] = {
    "exit": True,  # the run ended (its exit code; a clean exit is reported as information)
    "fatal_line": True,  # a line with one of ALERT_WORDS
    "nonfinite": True,  # NaN or Inf loss
    "spike": True,
    "stalled": True,
    "idle": True,
    "disk": True,
    "time_limit": True,  # Slurm only: less than time_limit_warn_s left of the job's limit
    "loss_names": ["loss"],
    "spike_k": 10.0,
    "spike_ratio": 2.0,
    "spike_quiet_s": 60.0,
    "stall_min_s": 600.0,
    "stall_factor": 5.0,
    "idle_below": 5.0,
    "idle_after_s": 300.0,
    "disk_every_s": 30.0,
    "time_limit_warn_s": 1800.0,
}


def merge_rules(base: Dict[str, object], override: object) -> Tuple[Dict[str, object], List[str]]:
    """``base`` with the keys of ``override`` (a table) laid over it, and one problem per key
    that is unknown or of the wrong type (that key is left as it was)."""
    rules = dict(base)
    problems: List[str] = []
    if override is None:
        return rules, problems
    if not isinstance(override, dict):
        return rules, ["[alerts] must be a table of rule = value"]
    for key, value in override.items():
        default = DEFAULT_RULES.get(key)
        if default is None:
            problems.append(f"unknown alert rule {key!r} (known: {', '.join(DEFAULT_RULES)})")
        elif isinstance(default, bool):
            if isinstance(value, bool):
                rules[key] = value
            else:
                problems.append(f"alert rule {key!r} must be true or false")
        elif isinstance(default, list):
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                rules[key] = list(value)
            else:
                problems.append(f"alert rule {key!r} must be a list of names")
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            rules[key] = float(value)
        else:
            problems.append(f"alert threshold {key!r} must be a number of at least 0")
    return rules, problems


def away_summary(alerts: Sequence[Mapping[str, Any]], show: int = 5) -> str:
    """ "3 alerts while you were away" and the latest ``show`` with their times, oldest first
    (what attaching shows; `rdt-tui alerts HOST` lists them all)."""
    if not alerts:
        return ""
    n = len(alerts)
    lines = [f"{n} alert{'s' if n != 1 else ''} while you were away"]
    if n > show:
        lines.append(f"... {n - show} earlier: `rdt-tui alerts HOST`")
    for a in alerts[-show:]:
        t = a.get("t")
        stamp = time.strftime("%a %H:%M", time.localtime(t if isinstance(t, float) else 0))
        lines.append(f"{stamp} {a.get('run') or ''}: {a.get('message')}")
    return "\n".join(lines)
