"""The dashboard's status line: run id, state, step, steps per second, ETA, how old the
newest data is, and the link's state (``stale`` when the round trips stop coming back)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from textual.widgets import Static

from ...core.units import human_age, human_duration

RATE_WINDOW_S = 60.0


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    StatusBar.-alert { background: $error; color: $text; }
    StatusBar.-stale { background: $warning; color: $text; }
    """

    def __init__(self, run_id: str, **kwargs: object) -> None:
        super().__init__(markup=False, **kwargs)  # type: ignore[arg-type]
        self.run_id = run_id
        self.state = "connecting"
        self.link = "connecting"
        self.step: int | None = None
        self.total: int | None = None
        # (time the agent parsed it, step): the rate comes from the node's clock, so a
        # backlog replayed on attach does not look like a burst of speed.
        self._recent: deque[tuple[float, int]] = deque(maxlen=256)
        self.rate: float | None = None
        self.alert = ""
        # The clock ages are read from: tests pass a frozen one.
        self.clock: Callable[[], float] = time.monotonic
        self.data_at: float | None = None  # when the newest event arrived (self.clock)
        self.stale_s: float | None = None  # the link's silence, once it counts as stale

    def heard(self) -> None:
        """An event arrived: the data shown is fresh as of now."""
        self.data_at = self.clock()

    def set_step(self, step: int | None, at: float | None = None, total: int | None = None) -> None:
        if step is None:
            return
        if at is not None:
            self._recent.append((at, step))
            while len(self._recent) > 2 and at - self._recent[0][0] > RATE_WINDOW_S:
                self._recent.popleft()
            t0, s0 = self._recent[0]
            if at - t0 >= 2 and step > s0:
                self.rate = (step - s0) / (at - t0)
        self.step = step
        self.total = total or self.total
        self.refresh_text()

    def refresh_text(self) -> None:
        step = "-" if self.step is None else str(self.step)
        if self.total:
            step += f"/{self.total}"
        rate = f"{self.rate:.2f} steps/s" if self.rate else "- steps/s"
        eta = None
        # Only a running run has an ETA: a stopped or ended one keeps no promise.
        if self.state == "running" and self.rate and self.total and self.step is not None:
            eta = (self.total - self.step) / self.rate
        alert = f"  ! {self.alert}" if self.alert else ""
        self.set_class(bool(self.alert), "-alert")
        self.set_class(self.stale_s is not None, "-stale")
        age = "-"
        if self.data_at is not None:
            age = human_age(self.clock() - self.data_at)
        link = self.link
        if self.stale_s is not None and self.link == "connected":
            link = f"STALE (no answer for {human_age(self.stale_s)})"
        full = (
            f"{self.run_id}  {self.state}  step {step}  {rate}  ETA {human_duration(eta)}  "
            f"data {age} ago  link {link}"
        )
        width = self.size.width - 2 if self.size.width else 0
        # The fit is judged without the alert: it goes last and may be cut (the bar turns red
        # and a notification says it whole).
        if width and len(full) > width:
            # Small terminals drop words, then the rate and the data's age; the run id, its
            # state, the step and the link stay longest.
            link = "STALE" if self.stale_s is not None and self.link == "connected" else link
            eta_s = human_duration(eta)
            for short in (
                f"{self.run_id}  {self.state}  {step}  ETA {eta_s}  data {age}  link {link}",
                f"{self.run_id} {self.state} {step} ETA {eta_s} link {link}",
                f"{self.state} {step} ETA {eta_s} {age} link {link}",
            ):
                full = short
                if len(full) <= width:
                    break
        # One row by its CSS whatever it says: no layout of the whole screen (a second's
        # tick would cost the console more than the rest of its work).
        self.update(full + alert, layout=False)

    def on_resize(self) -> None:
        self.refresh_text()
