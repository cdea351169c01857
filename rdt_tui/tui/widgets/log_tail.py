"""The run's log tail; tqdm repaints (\\r updates) collapse to the newest one."""

from __future__ import annotations

from textual.widgets import RichLog

MAX_LINES = 2000


class LogTail(RichLog):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, **kwargs)  # type: ignore[arg-type]
        self.lines_seen = 0

    def add_text(self, text: str) -> None:
        for chunk in text.replace("\r\n", "\n").split("\n"):
            if not chunk:
                continue
            # A \r-joined run of progress updates: only the newest is worth a line.
            newest = chunk.rstrip("\r").rsplit("\r", 1)[-1]
            self.lines_seen += 1
            self.write(newest)
