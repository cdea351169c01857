"""The console app. Build it with :func:`make_app`, which takes how to reach the run, so tests
can pass a client of their own."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

from textual import work
from textual._files import generate_datetime_filename
from textual.app import SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.theme import Theme

from ..client import AgentClient
from ..config.files import write_text_atomic
from ..config.paths import data_dir
from ..config.profiles import list_profiles
from ..config.settings import Settings, save_theme
from ..config.themes import ThemeError, load_themes
from ..core.compare import RunMarks
from ..launch.plan import LaunchPlan
from .away import on_attach
from .errors import error_title
from .guard import guarded, run_guarded
from .navigator import Navigator
from .screens.dashboard import DashboardScreen
from .screens.hosts_screen import HostActions, HostRow, HostsScreen
from .screens.live_status import COMPACT_HEIGHT, COMPACT_WIDTH, LiveStatus
from .secret_prompt import ConsolePrompter
from .terminal_alerts import TerminalAlerts

# How the console finds its run: an existing run's id, or a plan for the launch form.
OpenRun = Callable[[], Awaitable[tuple[AgentClient, "str | LaunchPlan"]]]


class RdtApp(Navigator):
    TITLE = "rdt-tui"
    # Every screen's and dialog's styling, beside this module; widgets keep DEFAULT_CSS.
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="the run keeps going", id="app.quit"),
        Binding("question_mark", "toggle_keys", "Keys", id="app.help"),
        # Esc closes the keys panel before a screen's own Esc (back, clear) sees it.
        Binding("escape", "hide_keys", "Hide keys", show=False, priority=True, id="app.hide_keys"),
    ]

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification as plain text: they carry what the node, the job and the user
        wrote (an error naming ``[/etc/ssh/...]`` raised a MarkupError; a log line's
        ``[rank0]`` vanished), and none of ours is markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def __init__(
        self,
        open_run: OpenRun | None = None,
        hosts: list[HostRow] | None = None,
        client_factory: Callable[[str], AgentClient] | None = None,
        settings: Settings | None = None,
        actions: HostActions | None = None,
        prompter: ConsolePrompter | None = None,
        at_exit: Callable[[], object] | None = None,
    ) -> None:
        super().__init__()
        self.actions = actions
        # Passwords, codes and passphrases the connects need are asked in a modal here;
        # at_exit ends what the clients shared (the SSH connections).
        self.prompter = prompter
        self.at_exit = at_exit
        # No file by default: tests and one-off uses never touch the user's settings.
        self.settings = settings or Settings()
        self.open_run = open_run
        self.hosts = hosts or []
        self.client_factory = client_factory
        self.list_profiles = list_profiles
        self.client: AgentClient | None = None
        self.clients: dict[str, AgentClient] = {}
        self._connecting: dict[str, asyncio.Lock] = {}
        # Runs marked for comparison, kept while the user moves between hosts' runs screens.
        self.run_marks = RunMarks()
        # (message, hint) when the run could not be opened: the CLI prints it and exits 1.
        self.failure: tuple[str, str] | None = None
        # The bell and desktop notifications of alerts heard while the console is open.
        self.terminal_alerts = TerminalAlerts.from_settings(self.settings.terminal)
        self.terminal_alerts.write = self._write_terminal

    def on_mount(self) -> None:
        if self.prompter is not None:
            self.prompter.bind(self)
        self._apply_settings()
        if self.open_run is not None:
            self.connect()
        else:
            self.push_screen(
                HostsScreen(self.hosts, self.host_client, self.actions, self.forget_host)
            )

    def on_resize(self) -> None:
        self.set_class(
            self.size.width < COMPACT_WIDTH or self.size.height < COMPACT_HEIGHT, "-compact"
        )

    def _apply_settings(self) -> None:
        try:
            for fields in load_themes():
                self.register_theme(Theme(**fields))
        except ThemeError as exc:
            self.notify(str(exc), severity="error", timeout=30)
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        if self.settings.keys:
            self.set_keymap(self.settings.keys)
        self.theme_changed_signal.subscribe(self, self._remember_theme)

    def _remember_theme(self, theme: Theme) -> None:
        if theme.name != self.settings.theme and self.settings.path:
            try:
                save_theme(self.settings, theme.name)
            except OSError as exc:
                self.notify(f"cannot remember the theme: {exc}", severity="warning")

    async def host_client(self, name: str) -> AgentClient:
        """One connected client per host, shared by every screen (made on first use)."""
        lock = self._connecting.setdefault(name, asyncio.Lock())
        async with lock:
            client = self.clients.get(name)
            if client is not None and not client.closed:
                return client
            assert self.client_factory is not None
            client = self.client_factory(name)
            await client.connect()
            self.clients[name] = client
            run_guarded(self, "Reading the alerts", on_attach(self, client, self.settings), "away")
            return client

    def forget_host(self, name: str) -> None:
        """Drop a host's connection (its entry or keys changed): the next use reconnects."""
        client = self.clients.pop(name, None)
        if client is not None:
            run_guarded(self, f"Closing the link to {name}", client.close(), "close")

    def _keys_shown(self) -> bool:
        return bool(self.screen.query("HelpPanel"))

    def action_toggle_keys(self) -> None:
        """`?` opens the keys panel and closes it again."""
        if self._keys_shown():
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_hide_keys(self) -> None:
        self.action_hide_help_panel()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "hide_keys":
            # False lets Esc go on to the screen (back, clear the filter) when no panel shows.
            return self._keys_shown()
        return True

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        # The screen's actions by their description with their keys, so ctrl+p finds every
        # action of every screen, those the footer leaves out included.
        keys: dict[tuple[int, str], list[str]] = {}
        found: dict[tuple[int, str], tuple[Any, Binding]] = {}
        for active in screen.active_bindings.values():
            binding = active.binding
            if active.node is self or not binding.description or not active.enabled:
                continue
            which = (id(active.node), binding.action)
            keys.setdefault(which, []).append(binding.key_display or self.get_key_display(binding))
            found.setdefault(which, (active.node, binding))
        for which, (node, binding) in found.items():
            run = partial(self.run_action, binding.action, node)
            yield SystemCommand(binding.description, f"key: {', '.join(keys[which])}", run)

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """Save the screen as SVG into a directory that exists (the current one when it can be
        written, else the console's data directory) and say where: Textual's default,
        ``~/Downloads``, is missing on most servers."""
        if path is None:
            path = os.getcwd()
            if not os.access(path, os.W_OK):
                path = os.path.join(data_dir(), "screenshots")
        try:
            os.makedirs(path, exist_ok=True)
            name = filename or generate_datetime_filename(self.title, ".svg", time_format)
            saved = os.path.join(path, name)
            write_text_atomic(saved, self.export_screenshot(), mode=0o644)
        except OSError as exc:
            self.notify(
                f"Cannot save the screenshot in {path}: {exc.strerror or exc}",
                title="Screenshot",
                severity="error",
                timeout=20,
            )
            return None
        self.notify(f"Saved {saved}", title="Screenshot", timeout=20)
        return saved

    def _write_terminal(self, text: str) -> None:
        driver = self._driver
        if driver is not None and not self.is_headless:
            driver.write(text)
            driver.flush()

    def on_live_status_alerted(self, message: LiveStatus.Alerted) -> None:
        self.terminal_alerts.hear(message.kind, "rdt-tui", message.text)

    @work(exclusive=True, group="connect")
    @guarded("Opening the run")
    async def connect(self) -> None:
        assert self.open_run is not None
        try:
            self.client, target = await self.open_run()
        except Exception as exc:  # no run to show: leave with the error, not a blank screen
            self.failure = (
                f"{error_title(exc, 'cannot open the run')}: {getattr(exc, 'message', exc)}",
                str(getattr(exc, "hint", "") or ""),
            )
            self.exit(return_code=1)
            return
        run_guarded(self, "Reading the alerts", on_attach(self, self.client, self.settings), "away")
        if isinstance(target, LaunchPlan):
            await self.push_screen(self.launch_screen(self.client, target))
        else:
            await self.push_screen(DashboardScreen(self.client, target))

    async def action_quit(self) -> None:
        # Quitting never stops a run: it lives under the node's agent.
        self.exit()

    async def on_unmount(self) -> None:
        for client in [self.client, *self.clients.values()]:
            if client is not None:
                await client.close()
        if self.at_exit is not None:
            done = self.at_exit()
            if inspect.isawaitable(done):
                await done


def make_app(
    open_run: OpenRun,
    settings: Settings | None = None,
    prompter: ConsolePrompter | None = None,
    at_exit: Callable[[], object] | None = None,
) -> RdtApp:
    """The console opened on one run (``rdt-tui demo``, ``rdt-tui watch``)."""
    return RdtApp(open_run=open_run, settings=settings, prompter=prompter, at_exit=at_exit)


def make_console_app(
    hosts: list[HostRow],
    client_factory: Callable[[str], AgentClient],
    settings: Settings | None = None,
    actions: HostActions | None = None,
    prompter: ConsolePrompter | None = None,
    at_exit: Callable[[], object] | None = None,
) -> RdtApp:
    """The console opened on the hosts screen (plain ``rdt-tui``). ``prompter`` asks what
    the hosts' connects need (bound to the app at mount); ``at_exit`` runs at the end."""
    return RdtApp(
        hosts=hosts,
        client_factory=client_factory,
        settings=settings,
        actions=actions,
        prompter=prompter,
        at_exit=at_exit,
    )
