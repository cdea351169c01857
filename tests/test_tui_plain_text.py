"""Texts from the node, the job and the user are drawn as they are, never read as markup:
a host's reason naming ``[/etc/ssh/ssh_config]`` raised a MarkupError from the hosts table's
render (the console went down), and a run's ``model.layers=[a,b]`` lost its brackets."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from rdt_tui.tui.app import RdtApp
from rdt_tui.tui.widgets.fit_table import FitTable
from rdt_tui.tui.widgets.plain_table import PlainTable
from rdt_tui.tui.widgets.status_bar import StatusBar

pytestmark = pytest.mark.asyncio

HOSTILE = (
    "see[/etc/ssh/ssh_config]",  # a closing tag that matches nothing: MarkupError
    "model.layers=[a,b]",  # a Hydra override: eaten as a style
    "reason[slurm@2024-12-01T10:00:00]",  # Slurm's stamp after a node's reason
    "x[bold]y[/bold]",
)


def drawn(app: App[None]) -> str:
    """The screen's text as drawn (the SVG screenshot's, spaces and all)."""
    svg = app.export_screenshot()
    return svg.replace("&#160;", " ").replace("&amp;", "&")


class Tables(App[None]):
    def compose(self) -> ComposeResult:
        yield PlainTable(id="plain")
        yield FitTable(("host", "status"), id="fit")
        yield StatusBar("run-1", id="bar")


async def test_tables_and_the_status_bar_draw_hostile_texts_as_they_are() -> None:
    app = Tables()
    async with app.run_test(size=(160, 30)) as pilot:
        plain = app.query_one("#plain", PlainTable)
        plain.add_column("text", key="text")
        for i, text in enumerate(HOSTILE):
            plain.add_row(text, key=str(i))
        fit = app.query_one("#fit", FitTable)
        fit.set_rows({str(i): (f"h{i}", text) for i, text in enumerate(HOSTILE)})
        bar = app.query_one("#bar", StatusBar)
        bar.alert = "log: " + HOSTILE[0]
        bar.refresh_text()
        await pilot.pause()
        plain.update_cell("0", "text", HOSTILE[1] + "!")
        await pilot.pause()
        screen = drawn(app)
        for i, text in enumerate(HOSTILE):
            assert text in screen, text
            assert fit.get_cell(str(i), "status") == text  # the str given, back
        assert plain.get_cell("0", "text") == HOSTILE[1] + "!"
        # Every read gives back the str put in (the checkpoint ages' test reads get_row).
        assert plain.get_row("1") == [HOSTILE[1]] and plain.get_row_at(2) == [HOSTILE[2]]
        assert list(plain.get_column("text"))[3] == HOSTILE[3]
        assert fit.get_row("0") == ["h0", HOSTILE[0]]


async def test_notifications_of_the_console_are_plain_text() -> None:
    app = RdtApp()
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await pilot.pause()
        for text in HOSTILE:
            app.notify(f"failed: {text}", severity="error", timeout=30)
            app.screen.notify(f"widget: {text}")
        await pilot.pause(0.3)
        screen = drawn(app)
        for text in HOSTILE:
            assert f"failed: {text}" in screen


class Candidates:
    """A client as the adopt screen uses it, on a host with a hostile name."""

    def __init__(self, host: str) -> None:
        self.host = host

    async def candidates(self) -> list[dict[str, object]]:
        return []


async def test_a_host_named_like_markup_is_drawn_as_it_is_in_the_titles() -> None:
    from rdt_tui.tui.host_form import HostForm
    from rdt_tui.tui.screens.adopt_screen import AdoptScreen

    for text in HOSTILE:
        app = App[None]()
        async with app.run_test(size=(160, 30)) as pilot:
            await app.push_screen(HostForm(f"Edit {text}", {}, lambda fields: None))
            await pilot.pause()
            assert f"Edit {text}" in drawn(app), text
            app.pop_screen()
            await app.push_screen(AdoptScreen(Candidates(text)))  # type: ignore[arg-type]
            await pilot.pause()
            assert f"Runs started by hand on {text}" in drawn(app), text
