"""The dashboard's log, read like `less`, driven by Pilot against the real local agent:
a 1 GiB log paged and searched on the node, and a live job followed, paused and wrapped."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest
from textual.css.query import NoMatches

from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport
from rdt_tui.tui.app import make_app
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.widgets.log_errors import ErrorList
from rdt_tui.tui.widgets.log_pane import LogPane
from rdt_tui.tui.widgets.log_view import LogView

from .biglog import NEEDLE, big_log, run_with_log

pytestmark = pytest.mark.asyncio


async def until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    for _ in range(int(timeout / 0.05)):
        try:
            if predicate():
                return
        except NoMatches:
            pass  # the screen is still composing
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or 'the log view'}")


def view_of(app: Any) -> LogView:
    if not isinstance(app.screen, DashboardScreen):
        raise NoMatches("no dashboard yet")
    return app.screen.query_one(LogView)


def on_screen(view: LogView) -> list[str]:
    """The rows as drawn (what the user sees, cropped to the view's width)."""
    height = view.scrollable_content_region.height
    return ["".join(seg.text for seg in view.render_line(y)) for y in range(height)]


def highlighted(view: LogView) -> list[str]:
    """The text drawn in the match style on screen."""
    style = view.get_component_rich_style("log-view--match")
    found = []
    for y in range(view.scrollable_content_region.height):
        found += [
            s.text for s in view.render_line(y) if s.style and s.style.bgcolor == style.bgcolor
        ]
    return found


async def test_a_gigabyte_log_pages_to_its_start_and_searches_on_the_node(
    state_dir: str,
) -> None:
    log = big_log()
    client = AgentClient(LocalTransport(state_dir), reconnect=True)
    await client.connect()
    run_id = await run_with_log(client, state_dir, log.path)

    async def open_run() -> tuple[AgentClient, str]:
        return client, run_id

    app = make_app(open_run)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: view_of(app).end == log.size, what="the tail")
        view = view_of(app)
        await pilot.pause()
        assert on_screen(view)[-1].startswith(log.last_line)
        assert view.start > 0  # a window at the end, not the whole GiB
        # Scrolling up near the window's top reads the page before; the lines on screen stay.
        first = view.start
        await pilot.press("pageup")
        assert not view.follow
        view.scroll_to(y=5, animate=False, immediate=True)
        top = view.top_line()
        await until(lambda: view.start < first, what="the page before")
        await pilot.pause()
        assert view.top_line() == top and view.scroll_y > 5
        await pilot.press("home")  # no Tab first: the log has the focus
        await until(lambda: view.start == 0 and view.top_line() == 0, what="the start")
        await pilot.pause()
        assert on_screen(view)[0].startswith(log.first_line)
        assert not view.follow
        # And near the window's bottom, the page after.
        end = view.end
        view.scroll_to(y=view.max_scroll_y - 5, animate=False, immediate=True)
        top = view.top_line()
        await until(lambda: view.end > end, what="the page after")
        await pilot.pause()
        assert view.top_line() == top
        await pilot.press("home")
        await until(lambda: view.top_line() == 0, what="the start again")

        await pilot.press("slash")
        await pilot.press(*NEEDLE)
        await pilot.press("enter")
        pane = app.screen.query_one(LogPane)
        await until(lambda: view.current == log.needles[0], what="the first match")
        await until(lambda: any(f"found {NEEDLE} here" in row for row in on_screen(view)))
        await pilot.pause()
        assert NEEDLE in highlighted(view)
        # Context: lines before the match are on screen too.
        assert any("boot line 119" in row for row in on_screen(view))

        await pilot.press("n")
        await until(lambda: view.current == log.needles[1], what="the next match")
        await pilot.press("n")  # the next one is a GiB further: searched on the node
        await until(lambda: view.current == log.needles[2], timeout=60, what="the last match")
        await until(lambda: any(f"{NEEDLE} near the end" in row for row in on_screen(view)))
        await pilot.press("N")
        await until(lambda: view.current == log.needles[1], timeout=60, what="N")
        assert pane.match is not None and pane.match["offset"] == log.needles[1]

        await pilot.press("x")
        errors = app.screen.query_one(ErrorList)
        await until(lambda: errors.option_count > 0, timeout=60, what="the error list")
        assert errors.offsets[0] == log.traceback_at
        await pilot.press("enter")
        await until(lambda: view.current == log.traceback_at, what="the Traceback line")
        await until(lambda: any(r.startswith("Traceback") for r in on_screen(view)))
        await pilot.press("q")
    await client.close()


JOB = textwrap.dedent("""
    import time
    print("long " + "word " * 60 + "END-OF-LONG-LINE", flush=True)
    for i in range(100000):
        print(f"step={i} loss={1 / (i + 1):.5}", flush=True)
        time.sleep(0.03)
""")


async def test_a_live_log_follows_pauses_on_scroll_up_resumes_on_end_and_wraps(
    state_dir: str, workdir: str
) -> None:
    job = os.path.join(workdir, "job.py")
    with open(job, "w") as fh:
        fh.write(JOB)
    client = AgentClient(LocalTransport(state_dir), reconnect=True)
    await client.connect()
    run = await client.launch([sys.executable, job], cwd=workdir)

    async def open_run() -> tuple[AgentClient, str]:
        return client, run["id"]

    app = make_app(open_run)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: view_of(app).lines_seen > 40, what="live lines")
        view = view_of(app)
        # Following: at the end once the repaint after the last lines came (a loaded machine
        # reads the view between the lines and the scroll: CI saw scroll_y 0 of 31).
        await until(lambda: view.follow and view.scroll_y == view.max_scroll_y, what="the end")
        await pilot.press("up")  # scrolls at once: no hidden focus step
        assert not view.follow
        top, seen = view.top_line(), view.lines_seen
        await until(lambda: view.lines_seen > seen + 10, what="more lines")
        await pilot.pause()
        assert view.top_line() == top  # paused: the screen stays where the user put it
        await pilot.press("end")
        await until(lambda: view.follow and view.lines_seen > seen + 20)
        await until(lambda: view.scroll_y == view.max_scroll_y and view.top_line() > top)

        await pilot.press("home")
        await until(lambda: view.start == 0 and view.top_line() == 0, what="the start")
        await pilot.pause()
        assert not any("END-OF-LONG-LINE" in row for row in on_screen(view))
        await pilot.press("W")
        await pilot.pause()
        drawn = "".join(row.rstrip() for row in on_screen(view)[:5])
        assert "word " * 20 in drawn and drawn.startswith("long") and "END-OF-LONG-LINE" in drawn
        await pilot.press("W")
        await pilot.pause()
        assert not any("END-OF-LONG-LINE" in row for row in on_screen(view))
        await pilot.press("q")
    async with AgentClient(LocalTransport(state_dir)) as c:  # the app closed its client
        await c.stop(run["id"], grace=1)


async def test_live_text_after_a_gap_is_joined_by_reading_the_gap(tmp_path: Any) -> None:
    """Following, live text that starts past the window's end (it came while End was reading
    the tail) makes the pane read the gap from the agent's reader; nothing is skipped."""
    from textual.app import App, ComposeResult

    from rdt_tui.agent.follower import read_chunk
    from rdt_tui.tui.widgets.log_pane import LogSource

    lines = [f"line {i}" for i in range(60)]
    path = str(tmp_path / "output.log")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")

    async def read(offset: int, limit: int) -> dict[str, Any]:
        text, start, end = read_chunk(path, offset, limit, True)
        return {"offset": start, "end": end, "text": text}

    async def size() -> int:
        return os.path.getsize(path)

    async def search(*args: Any) -> dict[str, Any]:
        raise AssertionError("no search here")

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield LogPane()

    app = Host()
    async with app.run_test(size=(80, 20)) as pilot:
        pane = app.query_one(LogPane)
        pane.source = LogSource(read, size, search)
        pane.view.reset(0, 0)
        head = "".join(f"{x}\n" for x in lines[:10])
        pane.feed(0, head)
        gap = len("".join(f"{x}\n" for x in lines[:40]).encode())
        pane.feed(gap, "".join(f"{x}\n" for x in lines[40:]))  # lines 10-39 never came live
        await until(lambda: pane.view.lines == lines, what="the gap read")
        await pilot.pause()
        assert pane.view.follow and on_screen(pane.view)[-1].startswith("line 59")


async def test_a_progress_bar_cut_between_reads_stays_one_line() -> None:
    """The agent sends a tqdm bar's repaints as they come, cut after a \\r: each read's newest
    repaint replaces the bar on screen, as a terminal shows it, instead of adding a line."""
    from textual.app import App, ComposeResult

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield LogPane()

    app = Host()
    async with app.run_test(size=(80, 20)) as pilot:
        pane = app.query_one(LogPane)
        pane.view.reset(0, 0)
        offset = 0
        for text in ("start\nbar 1%\r", "bar 2%\rbar 3%\r", "bar 4%\r\n", "done\n"):
            pane.feed(offset, text)
            offset += len(text.encode())
        await pilot.pause()
        assert pane.view.lines == ["start", "bar 4%", "done"]
        assert pane.view.offsets == [0, 6, 6 + len("bar 1%\rbar 2%\rbar 3%\rbar 4%\r\n")]


async def test_lines_are_shown_as_a_terminal_shows_them_with_their_byte_offsets() -> None:
    from rdt_tui.tui.widgets.log_view import display_lines

    text = "a\x1b[31mr\u00e9d\x1b[0m\tx\x08y\nbar 1\rbar 2\r\n\nlast"
    assert display_lines(10, text) == [
        (10, "ar\u00e9d    xy"),  # colours and control bytes gone, the tab expanded
        (10 + len("a\x1b[31mr\u00e9d\x1b[0m\tx\x08y\n".encode()), "bar 2"),  # newest repaint
        (42, ""),
        (43, "last"),
    ]


async def test_wrapped_rows_are_cut_by_cells_so_wide_characters_fit() -> None:
    from rich.cells import cell_len

    from rdt_tui.tui.widgets.log_view import _wrap_cuts

    line = "loss 損失 " * 10
    cuts = _wrap_cuts(line, 7)
    assert "".join(line[a:b] for a, b in cuts) == line
    assert all(cell_len(line[a:b]) <= 7 for a, b in cuts)
    assert _wrap_cuts("x" * 10, 4) == [(0, 4), (4, 8), (8, 10)]
