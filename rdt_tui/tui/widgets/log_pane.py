"""The log of a run, the whole of it: the view, its search box and its list of errors.

The pane reads the log from the agent by byte offset (``LogSource``: the ``log``, ``tail``
and ``log_search`` ops), so paging back through a 3-day log or searching a gigabyte costs
the pages shown and the lines found, never the file. It meets the world through a
``LogSource`` of callables (as screens meet it through ``HostActions``) and imports no client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input

from ...core.alerts import ALERT_WORDS, fatal_word
from ..guard import guarded
from .log_errors import ErrorList
from .log_view import LogView, display_lines

PAGE = 256 * 1024  # bytes read per page
TAIL = 256 * 1024  # bytes of the log shown when the dashboard opens
CONTEXT = 5  # lines shown above a match
MAX_ERRORS = 200


@dataclass
class LogSource:
    """How the pane reads one run's log (bound to a client and run by :func:`log_source`)."""

    read: Callable[[int, int], Awaitable[dict[str, Any]]]  # (offset, limit): offset, end, text
    size: Callable[[], Awaitable[int]]
    search: Callable[[Any, int, bool, int], Awaitable[dict[str, Any]]]


def log_source(client: Any, run: str) -> LogSource:
    async def read(offset: int, limit: int) -> dict[str, Any]:
        return dict(await client.log(run, offset, max(1, limit)))

    async def size() -> int:
        return int((await client.tail(run, 0))["end"])

    async def search(pattern: Any, offset: int, backward: bool, limit: int) -> dict[str, Any]:
        return dict(await client.log_search(run, pattern, offset, backward, limit))

    return LogSource(read, size, search)


def _after_first_newline(offset: int, text: str) -> tuple[int, str]:
    """Drop a partial first line (a read that began mid-line); a read with no newline at
    all is one cut line, kept."""
    cut = text.find("\n")
    if offset == 0 or cut < 0:
        return offset, text
    return offset + len(text[: cut + 1].encode("utf-8")), text[cut + 1 :]


class LogPane(Vertical):
    DEFAULT_CSS = """
    LogPane LogView { height: 1fr; border: round $primary; }
    LogPane #log-search { display: none; }
    LogPane #log-search.-shown { display: block; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source: LogSource | None = None
        self.match: dict[str, Any] | None = None  # the current search match
        self._paging = False
        self._errors_done = False
        self.backward = False  # the search's direction, which `n` repeats

    def compose(self) -> ComposeResult:
        yield LogView()
        yield ErrorList()
        yield Input(
            placeholder="search the whole log (Enter finds; n/N next/previous; Esc closes)",
            id="log-search",
        )

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        self.view.border_title = "log"
        self.view.focus()  # arrows and page keys scroll the log with no Tab first

    async def open(self, source: LogSource) -> int:
        """Show the end of the log; the offset the live text should come from."""
        self.source = source
        size = await source.size()
        start = max(0, size - TAIL)
        if start:
            head = await source.read(start, min(PAGE, size - start))
            start, _ = _after_first_newline(int(head["offset"]), str(head["text"]))
        self.view.reset(start, size)
        return start

    def feed(self, offset: int, text: str) -> None:
        self.view.feed(offset, text)
        if self._errors_done and fatal_word(text):
            errors = self.query_one(ErrorList)
            for at, line in display_lines(offset, text):
                if fatal_word(line):
                    errors.add(at, line)

    # ----- paging --------------------------------------------------------------------
    @on(LogView.Need)
    def _need(self, event: LogView.Need) -> None:
        if not self._paging and self.source is not None:
            self._paging = True
            self.page(event.before)

    @work(group="log-page")
    @guarded("Reading the log")
    async def page(self, before: bool) -> None:
        view, source = self.view, self.source
        assert source is not None
        start = view.start
        try:
            if before:
                lo = max(0, start - PAGE)
                got = await source.read(lo, start - lo)
                lo, text = _after_first_newline(lo, str(got["text"]))
                if view.start != start:
                    return  # the window moved (a jump) while the page was read
                view.add_before(lo, text)
            else:
                got = await source.read(view.end, PAGE)
                view.add_after(int(got["offset"]), str(got["text"]), int(got["end"]))
        except Exception as exc:  # a dropped link: the status bar says it; the page waits
            self.notify(f"cannot read the log: {exc}", severity="warning")
            return  # the next scroll asks again (not at once: no storm of failed reads)
        finally:
            self._paging = False
        # Scrolled on while the page was read: still near an edge asks for the next one.
        self.call_after_refresh(view.check_edges, before)

    @on(LogView.Jump)
    def _jump(self, event: LogView.Jump) -> None:
        if self.source is None:
            return
        if event.end:
            self.load_end()
        else:
            self.load_at(0, 0)

    @work(exclusive=True, group="log-load")
    @guarded("Reading the end of the log")
    async def load_end(self) -> None:
        assert self.source is not None
        size = await self.source.size()
        lo = max(0, size - PAGE)
        got = await self.source.read(lo, size - lo)
        lo, text = _after_first_newline(lo, str(got["text"]))
        self.view.set_window(lo, text, int(got["end"]), size)
        self.view.follow = True
        self.view.to_end()

    @work(exclusive=True, group="log-load")
    @guarded("Reading the log")
    async def load_at(self, offset: int, above: int) -> None:
        """The window around ``offset`` (a line start), ``above`` lines shown above it."""
        assert self.source is not None
        lo = max(0, offset - PAGE // 2)
        before = await self.source.read(lo, offset - lo) if offset else {"text": ""}
        lo, head = _after_first_newline(lo, str(before["text"]))
        after = await self.source.read(offset, PAGE)
        view = self.view
        view.follow = False
        view.set_window(lo, head + str(after["text"]), int(after["end"]), view.log_size)
        view.show_line(offset, min(above, view.scrollable_content_region.height // 3))

    # ----- search --------------------------------------------------------------------
    def start_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.add_class("-shown")
        box.focus()

    @on(Input.Submitted, "#log-search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        event.input.remove_class("-shown")
        self.view.focus()
        if event.value:
            self.view.set_pattern(event.value)
            self.match = None
            # Following the end, the newest match is the one wanted: search back from the
            # end (less's `?`); else forward from the top of the screen (less's `/`).
            self.backward = self.view.follow
            self.find(self.view.end if self.backward else self.view.top_line(), self.backward)

    def next_match(self, reverse: bool) -> None:
        """``n``: the next match in the search's direction; ``N`` (``reverse``) the other way."""
        if not self.view.pattern:
            self.start_search()
            return
        backward = self.backward != reverse
        if self.match is None:
            self.find(self.view.top_line(), backward)
        else:
            self.find(self.match["offset" if backward else "end"], backward)

    @work(exclusive=True, group="log-find")
    @guarded("Searching the log")
    async def find(self, offset: int, backward: bool) -> None:
        """The next line holding the pattern, asked of the agent in bounded calls."""
        source, view, pattern = self.source, self.view, self.view.pattern
        if source is None or not pattern:
            return
        while True:
            try:
                got = await source.search(pattern, offset, backward, 1)
            except Exception as exc:  # a bad pattern, a dropped link: said, not raised
                self.notify(f"search failed: {exc}", severity="error")
                return
            if got["matches"]:
                self.match = got["matches"][0]
                view.current = int(self.match["offset"])
                view.border_title = f"log · {'?' if self.backward else '/'}{pattern}"
                self.load_at(int(self.match["offset"]), CONTEXT)
                return
            if got["done"]:
                where = "before" if backward else "after"
                self.notify(f"{pattern!r} not found {where} this point", severity="warning")
                return
            offset = int(got["next"])
            size = max(1, int(got["size"]))
            view.border_title = f"log · searching /{pattern} {100 * offset // size}%"

    def close_search(self) -> None:
        """Esc: an open search box or error list closes; with none open, the search stops
        and its highlights go."""
        box, errors = self.query_one("#log-search", Input), self.query_one(ErrorList)
        if box.has_class("-shown") or errors.has_class("-shown"):
            box.remove_class("-shown")
            errors.remove_class("-shown")
            self.view.focus()
            return
        self.workers.cancel_group(self, "log-find")
        self.view.set_pattern("")
        self.view.current = None
        self.match = None
        self.view.border_title = "log"
        self.view.focus()

    # ----- errors --------------------------------------------------------------------
    def toggle_errors(self) -> None:
        errors = self.query_one(ErrorList)
        if errors.has_class("-shown"):
            errors.remove_class("-shown")
            self.view.focus()
            return
        errors.add_class("-shown")
        errors.focus()
        if not self._errors_done:
            self.scan_errors()

    @work(exclusive=True, group="log-errors")
    @guarded("Listing the errors in the log")
    async def scan_errors(self) -> None:
        if self.source is None:
            return  # the dashboard has not opened the log yet: `x` again later
        errors, offset = self.query_one(ErrorList), 0
        errors.border_subtitle = "searching..."
        while len(errors.offsets) < MAX_ERRORS:
            try:
                got = await self.source.search(list(ALERT_WORDS), offset, False, MAX_ERRORS)
            except Exception as exc:
                errors.border_subtitle = f"search failed: {exc}"
                return
            for m in got["matches"]:
                errors.add(int(m["offset"]), str(m["text"]))
            offset = int(got["next"])
            if got["done"]:
                break
        self._errors_done = True
        errors.border_subtitle = f"{len(errors.offsets)} found" + (
            "" if len(errors.offsets) < MAX_ERRORS else " (the first ones)"
        )

    @on(ErrorList.Chosen)
    def _chosen(self, event: ErrorList.Chosen) -> None:
        self.view.current = event.offset
        self.view.focus()
        self.load_at(event.offset, CONTEXT)
