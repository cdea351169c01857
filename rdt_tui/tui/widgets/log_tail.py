"""The run's log tail; tqdm repaints (\\r updates) collapse to the newest one.

The last lines are kept apart from what is drawn, so a filter (``/``) can show only the
lines holding a text, and clearing it shows them all again.
"""

from __future__ import annotations

from collections import deque

from textual.widgets import RichLog

MAX_LINES = 2000


class LogTail(RichLog):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, **kwargs)  # type: ignore[arg-type]
        self.lines_seen = 0
        self.history: deque[str] = deque(maxlen=MAX_LINES)
        self.filter = ""

    def add_text(self, text: str) -> None:
        for chunk in text.replace("\r\n", "\n").split("\n"):
            if not chunk:
                continue
            # A \r-joined run of progress updates: only the newest is worth a line.
            newest = chunk.rstrip("\r").rsplit("\r", 1)[-1]
            self.lines_seen += 1
            self.history.append(newest)
            if self.filter.lower() in newest.lower():
                self.write(newest)

    def set_filter(self, text: str) -> int:
        """Show only lines containing ``text`` (case-insensitive); the number shown."""
        self.filter = text
        self.clear()
        shown = [line for line in self.history if text.lower() in line.lower()]
        for line in shown:
            self.write(line)
        self.border_title = f"log (filter: {text})" if text else "log"
        return len(shown)
