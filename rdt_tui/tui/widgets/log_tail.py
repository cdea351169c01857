"""The run's log tail; tqdm repaints (\\r updates) collapse to the newest one.

The last lines are kept apart from what is drawn, so a filter (``/``) can show only the
lines holding a text, and clearing it shows them all again. Lines reach the screen four
times a second in one write: a job printing thousands of lines a second costs four paints,
and of each burst only the newest ``BURST`` lines are drawn (nobody reads faster; the filter
still searches all of the last ``MAX_LINES``, and ``rdt-tui logs`` has every byte).
"""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widgets import RichLog

MAX_LINES = 2000
BURST = 60
FLUSH_S = 0.25


class LogTail(RichLog):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, **kwargs)  # type: ignore[arg-type]
        self.lines_seen = 0
        self.history: deque[str] = deque(maxlen=MAX_LINES)
        self.filter = ""
        self._pending: list[str] = []
        self._scheduled = False

    def add_text(self, text: str) -> None:
        for chunk in text.replace("\r\n", "\n").split("\n"):
            if not chunk:
                continue
            # A \r-joined run of progress updates: only the newest is worth a line.
            newest = chunk.rstrip("\r").rsplit("\r", 1)[-1]
            self.lines_seen += 1
            self.history.append(newest)
            if self.filter.lower() in newest.lower():
                self._pending.append(newest)
        if self._pending and not self._scheduled:
            self._scheduled = True
            self.set_timer(FLUSH_S, self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        lines, self._pending = self._pending[-BURST:], []
        if lines:
            self.write(Text("\n".join(lines), no_wrap=True, end=""))

    def set_filter(self, text: str) -> int:
        """Show only lines containing ``text`` (case-insensitive); the number shown."""
        self.filter = text
        self._pending = []
        self.clear()
        shown = [line for line in self.history if text.lower() in line.lower()]
        if shown:
            self.write(Text("\n".join(shown), no_wrap=True, end=""))
        self.border_title = f"log (filter: {text})" if text else "log"
        return len(shown)
