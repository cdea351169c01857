"""A window of a run's log around a byte offset, read like ``less``: wrap, highlighted
matches, follow mode.

The view holds only a window of lines (``MAX_LINES``) with the byte offset of each, never the
whole log: when the user scrolls near an edge of the window it posts :class:`LogView.Need`
and its parent (tui/widgets/log_pane.py) reads the next page from the agent and hands it
back with :meth:`add_before` / :meth:`add_after`. Live lines arrive through :meth:`feed`; in
follow mode the view keeps to the newest line, and scrolling up pauses that until ``End``.
A ``\\r``-joined run of progress repaints shows as its newest repaint, as a terminal does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple, overload

from rich.cells import cell_len, get_character_cell_size
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...core.alerts import fatal_word
from ...core.logfind import smart_case
from ...core.units import human_size

MAX_LINES = 6000  # lines held; a page more is read when the user nears an edge
NEAR_EDGE = 2  # screens from an edge of the window that ask for the next page
MAX_WIDTH = 4000  # characters of a line drawn unwrapped
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # would move the cursor or draw nothing


def display_lines(offset: int, text: str) -> list[tuple[int, str]]:
    """``(byte offset, shown text)`` of each complete line of ``text`` read at ``offset``."""
    out = []
    # Most text has no escape, control byte or tab: then a line is shown as it is (the
    # check runs once over the whole text, at C speed, not per line).
    plain = "\t" not in text and not _CONTROL.search(text.replace("\r", ""))
    ascii_text = text.isascii()
    for raw in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
        shown = raw.rstrip("\r").rsplit("\r", 1)[-1]
        out.append(
            (offset, shown if plain else _CONTROL.sub("", _ANSI.sub("", shown).expandtabs(8)))
        )
        offset += (len(raw) if ascii_text else len(raw.encode("utf-8"))) + 1
    return out


def _wrap_cuts(line: str, width: int) -> list[tuple[int, int]]:
    """Character ranges of ``line`` that each fill at most ``width`` cells (a wide character,
    CJK say, takes two)."""
    if _cells(line) == len(line):
        return [(a, min(a + width, len(line))) for a in range(0, len(line), width)]
    cuts, start, used = [], 0, 0
    for i, ch in enumerate(line):
        w = get_character_cell_size(ch)
        if used + w > width and i > start:
            cuts.append((start, i))
            start, used = i, 0
        used += w
    cuts.append((start, len(line)))
    return cuts


class Row(NamedTuple):
    line: int  # index into the window's lines
    start: int  # characters of that line drawn on this row
    end: int


class _LineRows(Sequence[Row]):
    """The rows of an unwrapped window, one per line, made when asked for: a relayout at each
    append of live lines costs nothing however many lines the window holds."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines

    def __len__(self) -> int:
        return len(self._lines)

    @overload
    def __getitem__(self, i: int) -> Row: ...

    @overload
    def __getitem__(self, i: slice) -> list[Row]: ...

    def __getitem__(self, i: int | slice) -> Row | list[Row]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self._lines)))]
        if i < 0:
            i += len(self._lines)
        if not 0 <= i < len(self._lines):
            raise IndexError(i)
        return Row(i, 0, min(len(self._lines[i]), MAX_WIDTH))


def _cells(line: str) -> int:
    """Terminal cells of a shown line: its length when it is ASCII (control bytes are gone
    by then), a check CPython answers without reading the string."""
    return len(line) if line.isascii() else cell_len(line)


class LogView(ScrollView, can_focus=True):
    """The log lines; ``follow``, ``wrap`` and ``pattern`` are set by the parent."""

    COMPONENT_CLASSES = {"log-view--match", "log-view--current", "log-view--error"}
    DEFAULT_CSS = """
    LogView { background: $surface; }
    LogView > .log-view--match { background: $warning 60%; color: $text; text-style: bold; }
    LogView > .log-view--current { background: $accent 30%; }
    LogView > .log-view--error { color: $error; }
    """
    BINDINGS = [
        Binding("up", "line_up", "Up", show=False, id="log.up"),
        Binding("down", "line_down", "Down", show=False, id="log.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="log.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="log.page_down"),
        Binding("home", "start", "Start", show=False, id="log.start"),
        Binding("end", "end", "End/follow", show=False, id="log.end"),
    ]

    class Need(Message):
        """The user nears an edge of the window: ``before`` (older lines) or after."""

        def __init__(self, before: bool) -> None:
            super().__init__()
            self.before = before

    class Jump(Message):
        """Home or End: the parent loads the start (``end`` False) or the tail of the log."""

        def __init__(self, end: bool) -> None:
            super().__init__()
            self.end = end

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.offsets: list[int] = []
        self.lines: list[str] = []
        self.start = 0  # byte offset of the first line held
        self.end = 0  # byte offset after the last line held
        self.log_size = 0  # the log's size as far as we know
        self.follow = True
        self.wrap = False
        self.pattern = ""
        self.current: int | None = None  # offset of the line of the current match
        self.lines_seen = 0  # lines fed live, for the dashboard's tests and counters
        self._regex: re.Pattern[str] | None = None
        self._rows: Sequence[Row] = []
        self._width = 0
        self._streamed = 0  # where the live text has reached
        self._open = False  # the last line held ends in a \r repaint, not a newline

    # ----- the window ----------------------------------------------------------------
    def reset(self, offset: int, size: int | None = None) -> None:
        """An empty window at ``offset`` (a line start), the next lines to come after it."""
        self.offsets, self.lines = [], []
        self.start = self.end = offset
        self._open = False
        self.log_size = max(self.log_size, offset) if size is None else size
        self._relayout()

    def set_window(self, start: int, text: str, end: int, size: int) -> None:
        """Replace the window with the lines of ``text`` read at ``start``."""
        pairs = display_lines(start, text)
        self.offsets = [p[0] for p in pairs]
        self.lines = [p[1] for p in pairs]
        self.start, self.end, self.log_size = start, end, max(size, end)
        self._open = text.endswith("\r")
        self._relayout()

    def add_before(self, start: int, text: str) -> None:
        """Older lines, read at ``start`` and ending where the window starts."""
        pairs = display_lines(start, text)
        if not pairs:
            return
        self.offsets[:0] = [p[0] for p in pairs]
        self.lines[:0] = [p[1] for p in pairs]
        self.start = start
        if len(self.lines) > MAX_LINES:
            self.end = self.offsets[MAX_LINES]
            del self.offsets[MAX_LINES:], self.lines[MAX_LINES:]
        self._relayout()
        # The lines on screen stay where they were: below the rows just added.
        added = sum(1 for r in self._rows if r.line < len(pairs))
        self.scroll_to(y=self.scroll_y + added, animate=False, immediate=True)

    def add_after(self, start: int, text: str, end: int) -> None:
        """Newer lines, read at ``start`` (the window's end); ``end`` is after them."""
        self.log_size = max(self.log_size, end)
        self._append([p for p in display_lines(start, text) if p[0] >= self.end], end, text)

    def _append(self, pairs: list[tuple[int, str]], end: int, text: str) -> None:
        if not pairs or pairs[0][0] != self.end:
            return  # not contiguous (a page that came late): the next Need asks again
        if self._open and self.lines:
            # The last line was a progress bar cut after a \r repaint: its next repaint
            # replaces it, as on a terminal, instead of adding a line per read.
            if pairs[0][1]:
                self.lines[-1] = pairs[0][1]
            pairs = pairs[1:]
        self._open = text.endswith("\r")
        self.offsets.extend(p[0] for p in pairs)
        self.lines.extend(p[1] for p in pairs)
        self.end = end
        dropped_rows = 0
        if len(self.lines) > MAX_LINES:
            cut = len(self.lines) - MAX_LINES
            dropped_rows = cut if not self.wrap else sum(1 for r in self._rows if r.line < cut)
            del self.offsets[:cut], self.lines[:cut]
            self.start = self.offsets[0]
        self._relayout()
        if self.follow:
            self.to_end()
        elif dropped_rows:
            self.scroll_to(y=max(0, self.scroll_y - dropped_rows), animate=False, immediate=True)

    def feed(self, offset: int, text: str) -> None:
        """Live text of the log read at ``offset`` (the dashboard's subscription)."""
        end = offset + len(text.encode("utf-8"))
        self.lines_seen += text.count("\n")
        if offset < self._streamed:
            self.reset(offset, end)  # truncated in place: what the window held is gone
        self._streamed = end
        self.log_size = max(self.log_size, end)
        # Lines the window already holds (read by a jump to the end) are not added twice.
        self._append([p for p in display_lines(offset, text) if p[0] >= self.end], end, text)
        if self.follow and offset > self.end:
            # Live text that came while the window was being read: the gap is read from
            # the agent, then the live text joins again.
            self.post_message(self.Need(before=False))
        self._retitle()

    # ----- drawing -------------------------------------------------------------------

    def set_pattern(self, pattern: str) -> None:
        self.pattern = pattern
        flags = re.IGNORECASE if smart_case(pattern) else 0
        self._regex = re.compile(re.escape(pattern), flags) if pattern else None
        self.refresh()

    def toggle_wrap(self) -> None:
        top = self.top_line()
        self.wrap = not self.wrap
        self._relayout()
        self.show_line(top, 0)

    def on_resize(self) -> None:
        top = self.top_line()
        self._relayout()
        if self.follow:
            self.to_end()
        else:
            self.show_line(top, 0)

    def to_end(self) -> None:
        """The newest line at the bottom, now and once the layout is done (the first lines
        can come before the view has its size)."""
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)

    def _relayout(self) -> None:
        width = max(10, self.scrollable_content_region.width or self.size.width or 80)
        self._width = width
        # At each append of live lines (1000 lines/s of log): unwrapped, no row is made
        # and no character is looked at in an ASCII line.
        if self.wrap:
            rows: list[Row] = []
            for i, line in enumerate(self.lines):
                if _cells(line) > width:
                    rows.extend(Row(i, a, b) for a, b in _wrap_cuts(line, width))
                else:
                    rows.append(Row(i, 0, min(len(line), MAX_WIDTH)))
            self._rows = rows
            longest = 0
        else:
            self._rows = _LineRows(self.lines)
            longest = max((_cells(x[:MAX_WIDTH]) for x in self.lines), default=0)
        self.virtual_size = Size(max(longest, width) if not self.wrap else width, len(self._rows))
        self._retitle()
        self.refresh()

    def _retitle(self) -> None:
        # Where the screen's bottom line ends, as `less` shows it.
        bottom = min(int(self.scroll_y) + self.scrollable_content_region.height, len(self._rows))
        line = self._rows[bottom - 1].line + 1 if bottom > 0 else 0
        at = self.offsets[line] if line < len(self.offsets) else self.end
        pct = 100 * at // self.log_size if self.log_size else 100
        mode = "follow" if self.follow else "paused (End follows)"
        wrap = " · wrap" if self.wrap else ""
        self.border_subtitle = f"{pct}% of {human_size(self.log_size, compact=True)} · {mode}{wrap}"

    def render_line(self, y: int) -> Strip:
        index = y + int(self.scroll_y)
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= len(self._rows):
            return Strip.blank(width, base)
        row = self._rows[index]
        full = self.lines[row.line]
        text = Text(full[row.start : row.end], style=base, end="")
        if fatal_word(full):
            text.stylize(self.get_component_rich_style("log-view--error"))
        if self.current is not None and self.offsets[row.line] == self.current:
            text.stylize(self.get_component_rich_style("log-view--current"))
        if self._regex is not None:
            style = self.get_component_rich_style("log-view--match")
            for m in self._regex.finditer(text.plain):
                text.stylize(style, m.start(), m.end())
        strip = Strip(text.render(self.app.console), text.cell_len)
        x = int(self.scroll_x) if not self.wrap else 0
        return strip.crop_extend(x, x + width, base)

    # ----- where things are ----------------------------------------------------------
    def top_line(self) -> int:
        """The byte offset of the line at the top of the screen."""
        index = int(self.scroll_y)
        if not self._rows:
            return self.start
        return self.offsets[self._rows[min(index, len(self._rows) - 1)].line]

    def row_of(self, offset: int) -> int:
        """The first row of the last line starting at or before ``offset``."""
        line = 0
        for i, o in enumerate(self.offsets):
            if o > offset:
                break
            line = i
        if not self.wrap:
            return line if line < len(self._rows) else 0
        return next((r for r, row in enumerate(self._rows) if row.line == line), 0)

    def show_line(self, offset: int, above: int) -> None:
        """Scroll so the line at ``offset`` has ``above`` lines of context above it."""
        self.scroll_to(y=max(0, self.row_of(offset) - above), animate=False, immediate=True)

    def visible_text(self) -> list[str]:
        """The rows on screen as drawn (the tests read these)."""
        top = int(self.scroll_y)
        rows = self._rows[top : top + self.scrollable_content_region.height]
        return [self.lines[r.line][r.start : r.end] for r in rows]

    # ----- keys and the mouse --------------------------------------------------------
    def pause(self) -> None:
        if self.follow:
            self.follow = False
            self._retitle()

    def action_line_up(self) -> None:
        self.pause()
        self.scroll_to(y=self.scroll_y - 1, animate=False)

    def action_line_down(self) -> None:
        self.scroll_to(y=self.scroll_y + 1, animate=False)

    def action_page_up(self) -> None:
        self.pause()
        self.scroll_to(y=self.scroll_y - self.scrollable_content_region.height, animate=False)

    def action_page_down(self) -> None:
        self.scroll_to(y=self.scroll_y + self.scrollable_content_region.height, animate=False)

    def action_start(self) -> None:
        self.pause()
        self.post_message(self.Jump(end=False))

    def action_end(self) -> None:
        self.follow = True
        self._retitle()
        self.post_message(self.Jump(end=True))

    def on_mouse_scroll_up(self) -> None:
        self.pause()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value != old_value:
            self._retitle()
            self.check_edges(up=new_value < old_value)

    def check_edges(self, up: bool | None = None) -> None:
        """Ask for the next page when the screen is near an edge of the window (``up``:
        only the top edge; False: only the bottom; None: either)."""
        screen = max(1, self.scrollable_content_region.height)
        if up is not False and self.start > 0 and self.scroll_y < NEAR_EDGE * screen:
            self.post_message(self.Need(before=True))
        elif (
            up is not True
            and self.end < self.log_size
            and self.scroll_y > self.max_scroll_y - NEAR_EDGE * screen
        ):
            self.post_message(self.Need(before=False))
