"""The dashboard's status line: run id, state, step, steps per second, ETA, link state."""

from __future__ import annotations

from collections import deque

from textual.widgets import Static

from ...core.units import human_duration

RATE_WINDOW_S = 60.0


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    StatusBar.-alert { background: $error; color: $text; }
    """

    def __init__(self, run_id: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
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
        if self.rate and self.total and self.step is not None:
            eta = (self.total - self.step) / self.rate
        alert = f"  ! {self.alert}" if self.alert else ""
        self.set_class(bool(self.alert), "-alert")
        self.update(
            f"{self.run_id}  {self.state}  step {step}  {rate}  ETA {human_duration(eta)}  "
            f"link {self.link}{alert}"
        )
