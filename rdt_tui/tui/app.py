"""The console app. Build it with :func:`make_app`, which takes how to reach the run, so tests
can pass a client of their own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import work
from textual.app import App
from textual.binding import Binding

from ..client import AgentClient
from .dashboard import DashboardScreen

OpenRun = Callable[[], Awaitable[tuple[AgentClient, str]]]


class RdtApp(App[None]):
    TITLE = "rdt-tui"
    BINDINGS = [Binding("q", "quit", "Quit (the run keeps going)", id="app.quit")]

    def __init__(self, open_run: OpenRun) -> None:
        super().__init__()
        self.open_run = open_run
        self.client: AgentClient | None = None

    def on_mount(self) -> None:
        self.connect()

    @work(exclusive=True, group="connect")
    async def connect(self) -> None:
        try:
            self.client, run_id = await self.open_run()
        except Exception as exc:  # shown to the user; the console stays usable to quit
            hint = getattr(exc, "hint", "")
            self.notify(f"{exc}{chr(10) + hint if hint else ''}", severity="error", timeout=60)
            return
        await self.push_screen(DashboardScreen(self.client, run_id))

    async def action_quit(self) -> None:
        # Quitting never stops a run: it lives under the node's agent.
        self.exit()

    async def on_unmount(self) -> None:
        if self.client is not None:
            await self.client.close()


def make_app(open_run: OpenRun) -> RdtApp:
    return RdtApp(open_run)
