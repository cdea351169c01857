"""The hosts screen at 80 columns shows every column: the widest texts (an unreachable host's
reason, a long address) are cut with an ellipsis instead of pushing the last columns (`gpus`,
`runs`) off to the right, where they were reached only by scrolling. The whole text is kept:
Enter on the unreachable host still says it in full, and a wide terminal shows it whole.
Real console, real local agent, a closed port for the unreachable host."""

from __future__ import annotations

import os
from typing import Any

import pytest
from textual.widgets import DataTable

from rdt_tui.tui.app import make_console_app
from rdt_tui.tui.screens.hosts_screen import COLUMNS, HostRow, HostsScreen
from rdt_tui.tui.widgets.fit_table import cut, fit

from .fakes import FakeClient
from .test_tui_console import closed_port, local_factory
from .test_tui_dashboard import until


def hosts_config(workdir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = os.path.join(workdir, "cfg")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "hosts.toml"), "w") as fh:
        fh.write(
            f'[[hosts]]\nname = "gone"\nhostname = "127.0.0.1"\nport = {closed_port()}\n'
            "user = 'a-rather-long-user-name'\n"
        )
    ssh_config = os.path.join(workdir, "ssh_config")
    open(ssh_config, "w").close()
    monkeypatch.setenv("RDT_TUI_CONFIG_DIR", cfg)
    monkeypatch.setenv("RDT_TUI_SSH_CONFIG", ssh_config)
    monkeypatch.chdir(workdir)


def drawn(table: DataTable[Any], row: int) -> str:
    """A table line as drawn (row -1: the header)."""
    return table.render_line(row + 1).text


async def all_headers_drawn(table: DataTable[Any]) -> None:
    try:
        await until(lambda: drawn(table, -1).split() == list(COLUMNS), timeout=60)
    except AssertionError:
        raise AssertionError(f"headers drawn: {drawn(table, -1)!r}") from None


@pytest.mark.asyncio
async def test_every_column_is_on_screen_at_80_and_whole_texts_when_wide(
    state_dir: str, workdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rdt_tui.cli import host_rows

    hosts_config(workdir, monkeypatch)
    app = make_console_app(host_rows(), local_factory(state_dir))
    notes: list[str] = []
    async with app.run_test(size=(200, 30)) as pilot:
        await until(lambda: isinstance(app.screen, HostsScreen))
        screen = app.screen
        assert isinstance(screen, HostsScreen)
        await until(lambda: screen.status.get("localhost") == "reachable", timeout=60)
        await until(lambda: screen.status.get("gone", "checking...") != "checking...", timeout=60)
        await pilot.pause()
        table = screen.query_one(DataTable)
        gone = table.get_row_index("gone")
        reason = screen.status["gone"]
        assert table.get_cell("gone", "status") == reason and reason in drawn(table, gone)

        # Narrowed to 80 columns (a terminal resized, or one that starts there).
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await all_headers_drawn(table)
        assert table.max_scroll_x == 0, (table.virtual_size, table.size)  # nothing off-screen
        shown = str(table.get_cell("gone", "status"))
        assert shown.endswith("…") and reason.startswith(shown[:-1]), shown
        assert shown in drawn(table, gone)
        row: Any = table.get_row("localhost")
        assert [str(c) for c in row[-2:]] == ["none", "0"]  # gpus, runs: whole
        assert drawn(table, table.get_row_index("localhost")).split()[-2:] == ["none", "0"]

        # The keys panel opened beside it: the table narrows, the terminal does not.
        await pilot.press("question_mark")
        await until(lambda: table.size.width < 70)
        await all_headers_drawn(table)
        assert table.max_scroll_x == 0, (table.virtual_size, table.size)
        await pilot.press("question_mark")
        await until(lambda: table.size.width == 80)

        # Enter on it still says the whole reason.
        app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
        table.move_cursor(row=gone)
        await pilot.press("enter")
        await until(lambda: bool(notes))
        assert notes == [f"gone: {reason}"]

        # Wide again: whole again.
        await pilot.resize_terminal(200, 30)
        await until(lambda: table.get_cell("gone", "status") == reason)
        await pilot.pause()
        assert reason in drawn(table, gone)


@pytest.mark.asyncio
async def test_many_hosts_fit_beside_the_scrollbar() -> None:
    """More hosts than lines: the vertical scrollbar takes two columns, and still nothing
    is off to the right. The hosts screen alone, on fake clients."""
    rows = [
        HostRow(f"gpu-{i}", f"alice@gpu-node-{i}.cluster.internal:22", "jump") for i in range(30)
    ]
    app = make_console_app(rows, lambda name: FakeClient(name))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: isinstance(app.screen, HostsScreen))
        screen = app.screen
        assert isinstance(screen, HostsScreen)
        await until(
            lambda: set(screen.status.values()) == {"reachable"} and len(screen.status) == 30
        )
        await pilot.pause()
        table = screen.query_one(DataTable)
        await all_headers_drawn(table)
        assert table.scrollable_content_region.width == 78  # the scrollbar is there
        assert table.max_scroll_x == 0, (table.virtual_size, table.size)


def test_fit_cuts_the_widest_first_and_never_below_a_header() -> None:
    assert fit([9, 26, 4], [4, 7, 4], 60) == [9, 26, 4]  # fits: as it is
    assert fit([9, 26, 40], [4, 7, 6], 40) == [9, 16, 15]  # the two widest cut, all the room used
    assert fit([9, 26, 4], [4, 7, 4], 10) == [4, 7, 4]  # no room: the headers still show
    assert cut("Connection refused", 8) == "Connect…" and cut("ok", 8) == "ok"
    assert len(COLUMNS) == 7
