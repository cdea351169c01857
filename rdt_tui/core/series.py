"""Time series kept by the console: GPU samples over hours, metric smoothing.

``TieredSeries`` keeps the last hour of 1 Hz samples as they came and older ones averaged
into 30-second buckets for a day, so a card can widen its window from a minute to hours
while memory stays bounded (3600 + 2880 entries however long the console stays attached).
"""

from collections import deque
from typing import Deque, List, Optional, Sequence, Tuple

Values = Tuple[Optional[float], ...]


class TieredSeries:
    def __init__(self, fine_s: float = 3600.0, bucket_s: float = 30.0, coarse_s: float = 86400.0):
        self.fine_s = fine_s
        self.bucket_s = bucket_s
        self.fine: Deque[Tuple[float, Values]] = deque()
        self.coarse: Deque[Tuple[float, Values]] = deque(maxlen=int(coarse_s // bucket_s))
        self._bucket: Optional[int] = None
        self._sums: List[float] = []
        self._counts: List[int] = []

    def __len__(self) -> int:
        return len(self.fine) + len(self.coarse)

    def add(self, t: float, values: Values) -> None:
        if self.fine and t <= self.fine[-1][0]:
            return  # a replayed sample (resubscribe after a reconnect)
        self.fine.append((t, values))
        while self.fine and t - self.fine[0][0] > self.fine_s:
            self._to_coarse(*self.fine.popleft())

    def _to_coarse(self, t: float, values: Values) -> None:
        bucket = int(t // self.bucket_s)
        if bucket != self._bucket:
            self._close_bucket()
            self._bucket = bucket
            self._sums = [0.0] * len(values)
            self._counts = [0] * len(values)
        for i, v in enumerate(values[: len(self._sums)]):
            if v is not None:
                self._sums[i] += v
                self._counts[i] += 1

    def _close_bucket(self) -> None:
        if self._bucket is None:
            return
        mid = (self._bucket + 0.5) * self.bucket_s
        self.coarse.append(
            (mid, tuple(s / c if c else None for s, c in zip(self._sums, self._counts)))
        )
        self._bucket = None

    def window(self, seconds: float, now: Optional[float] = None) -> List[Tuple[float, Values]]:
        """Samples of the last ``seconds`` (before ``now``, default the newest sample)."""
        if not self.fine:
            return []
        now = self.fine[-1][0] if now is None else now
        start = now - seconds
        out = _newest(self.coarse, start) if seconds > self.fine_s else []
        out.extend(_newest(self.fine, start))
        return out


def _newest(samples: "Deque[Tuple[float, Values]]", start: float) -> List[Tuple[float, Values]]:
    """The samples at or after ``start``, walking back from the newest: a 30-second window of
    an hour-long deque costs 30 steps, not 3600."""
    out = []
    for sample in reversed(samples):
        if sample[0] < start:
            break
        out.append(sample)
    out.reverse()
    return out


def ema(values: Sequence[float], weight: float) -> List[float]:
    """TensorBoard-style smoothing: exponential moving average, debiased at the start so the
    first points are not pulled towards zero. ``weight`` 0 returns the values unchanged."""
    if weight <= 0:
        return list(values)
    out: List[float] = []
    last = 0.0
    for i, v in enumerate(values, 1):
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight**i))
    return out
