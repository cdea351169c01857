"""What a live append costs the log view, counted instead of timed: with a full window (6,000
lines) and 1,000 lines a second coming in, the relayout at each append must not measure every
held line's cells again (rich's cell_len walks the characters) nor build a row per held line.
The rows it gives (unwrapped, wrapped, wide characters) are the ones it gave before."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App, ComposeResult

from rdt_tui.tui.widgets import log_view
from rdt_tui.tui.widgets.log_pane import LogPane
from rdt_tui.tui.widgets.log_view import MAX_LINES, Row

pytestmark = pytest.mark.asyncio


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield LogPane()


def text_of(first: int, count: int) -> str:
    return "".join(
        f"step={i} loss={1 / (i + 1):.6f} grad_norm=1.5\n" for i in range(first, first + count)
    )


async def test_a_live_append_to_a_full_window_measures_and_builds_only_what_is_new(
    monkeypatch: Any,
) -> None:
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(LogPane).view
        view.reset(0, 0)
        first = text_of(0, MAX_LINES)
        view.feed(0, first)
        await pilot.pause()
        assert len(view.lines) == MAX_LINES
        measured: list[str] = []
        built: list[int] = []
        real_cell_len = log_view.cell_len

        def counting_cell_len(text: str) -> int:
            measured.append(text)
            return real_cell_len(text)

        class CountingRow(Row):
            def __new__(cls, line: int, start: int, end: int) -> Any:
                built.append(line)
                return Row.__new__(Row, line, start, end)

        monkeypatch.setattr(log_view, "cell_len", counting_cell_len)
        monkeypatch.setattr(log_view, "Row", CountingRow)
        view.feed(len(first.encode()), text_of(MAX_LINES, 1000))
        assert len(view.lines) == MAX_LINES and view.lines[-1].startswith(
            f"step={MAX_LINES + 999} "
        )
        assert measured == []  # ASCII lines: their length is their width
        assert len(built) < 100, len(built)  # rows are made as they are drawn, not per line
        await pilot.pause()
        assert view.visible_text()[-1].startswith(f"step={MAX_LINES + 999} ")


async def test_rows_unwrapped_and_wrapped_are_as_before() -> None:
    app = Host()
    async with app.run_test(size=(60, 20)) as pilot:
        view = app.query_one(LogPane).view
        view.reset(0, 0)
        lines = ["short", "x" * 130, "損失 " * 30, "", "tail"]
        view.feed(0, "".join(line + "\n" for line in lines))
        await pilot.pause()
        rows = list(view._rows)
        assert rows == [Row(i, 0, len(line)) for i, line in enumerate(lines)]
        assert view.virtual_size.width == max(150, view._width)  # 30 x "損失 ": 150 cells
        assert view.row_of(view.offsets[2]) == 2 and view.visible_text()[-1] == "tail"
        view.toggle_wrap()
        await pilot.pause()
        width = view._width
        wrapped = list(view._rows)
        assert [r.line for r in wrapped].count(1) == -(-130 // width)
        assert all(log_view.cell_len(lines[r.line][r.start : r.end]) <= width for r in wrapped)
        assert "".join(lines[2][r.start : r.end] for r in wrapped if r.line == 2) == lines[2]
        assert view.row_of(view.offsets[4]) == len(wrapped) - 1


def slow_display_lines(offset: int, text: str) -> list[tuple[int, str]]:
    """display_lines as it was, every line through both regexes (the reference)."""
    out = []
    for raw in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
        shown = raw.rstrip("\r").rsplit("\r", 1)[-1]
        clean = log_view._CONTROL.sub("", log_view._ANSI.sub("", shown).expandtabs(8))
        out.append((offset, clean))
        offset += len(raw.encode("utf-8")) + 1
    return out


@pytest.mark.parametrize(
    "text",
    [
        "step=1 loss=0.5\nstep=2 loss=0.4\n",
        "bar 1%\rbar 2%\r\nnext",
        "a\tb\nc\n",
        "\x1b[31mred\x1b[0m\nplain\n",
        "bell\x07 and \x7fdel\n\n",
        "r\u00e9sum\u00e9 \u640d\u5931\nascii\n",
        "\u00e9\x1b[1mbold\x1b[0m\t\r\n",
        "",
        "no newline at all",
    ],
)
async def test_the_plain_text_fast_path_shows_what_the_regexes_showed(text: str) -> None:
    assert log_view.display_lines(7, text) == slow_display_lines(7, text)
