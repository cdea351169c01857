"""The rules behind the dashboard's alerts, kept apart from the screen so they can be tested.

Each rule looks at numbers only: a loss spike, a GPU lagging its peers, all GPUs idle while
the run lives, and when the disk will be full at the rate it is filling.
"""

import math
from collections import deque
from statistics import median
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple

# Words in a run's log worth an alert while the run trains.
ALERT_WORDS = ("Traceback", "CUDA out of memory", "OutOfMemoryError", "NCCL", "Watchdog caught")


def log_alert(text: str, stopping: bool) -> Optional[str]:
    """The alert a chunk of log raises; none once a stop was asked for: the traceback of the
    KeyboardInterrupt, torch's shutdown and NCCL teardown lines are what a stop makes a job
    print, not news."""
    if stopping:
        return None
    return next((w for w in ALERT_WORDS if w in text), None)


def ended_text(final: Dict[str, Any]) -> Tuple[str, bool]:
    """How a run's end is worded, and whether it is bad news. A stop someone asked for is
    said as such, whatever exit code the signal gave."""
    status, code = final.get("status"), final.get("exit_code")
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
