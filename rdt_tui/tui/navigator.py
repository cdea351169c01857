"""The app as the only navigator: screens post "open X" (``messages.py``), and here each is
built with what it needs and pushed. Screens never import each other and never reach into
the app; what they need from outside (other hosts' clients, the profiles, the run marks)
they are handed here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App

from ..client import AgentClient
from ..config.profiles import ProfileError, find_profile, load_profile, profile_dirs
from ..core.compare import RunMarks
from ..launch.plan import LaunchPlan, plan_of_profile, resume_plan
from .guard import guarded
from .messages import (
    Connect,
    Detached,
    OpenAdopt,
    OpenCluster,
    OpenDashboard,
    OpenLaunch,
    OpenQueue,
    OpenResume,
    OpenRuns,
)
from .screens.adopt_screen import AdoptScreen
from .screens.cluster_screen import ClusterScreen
from .screens.compare_screen import CompareScreen
from .screens.dashboard import DashboardScreen
from .screens.launch_screen import LaunchScreen
from .screens.queue_screen import QueueScreen
from .screens.runs_screen import RunsScreen

if TYPE_CHECKING:
    from .screens.runs_screen import ProfileList


class Navigator(App[None]):
    """Mixed into the app: one handler per message of ``messages.py``."""

    client_factory: Callable[[str], AgentClient] | None
    run_marks: RunMarks
    list_profiles: ProfileList
    host_client: Callable[[str], Awaitable[AgentClient]]

    def other_hosts(self) -> Connect | None:
        """How a screen reaches another host: only a console that knows hosts can."""
        return self.host_client if self.client_factory is not None else None

    def launch_screen(self, client: AgentClient, plan: LaunchPlan) -> LaunchScreen:
        return LaunchScreen(client, plan, self.other_hosts())

    def on_open_runs(self, message: OpenRuns) -> None:
        self.push_screen(RunsScreen(message.client, self.list_profiles, self.run_marks))

    def on_open_dashboard(self, message: OpenDashboard) -> None:
        screen = DashboardScreen(message.client, message.run_id, message.group)
        if message.replace:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def on_open_launch(self, message: OpenLaunch) -> None:
        self.push_screen(self.launch_screen(message.client, plan_of_profile(message.profile)))

    def on_open_cluster(self, message: OpenCluster) -> None:
        self.push_screen(ClusterScreen(message.hosts, message.connect, message.runs))

    def on_open_queue(self, message: OpenQueue) -> None:
        self.push_screen(QueueScreen(message.client))

    def on_open_adopt(self, message: OpenAdopt) -> None:
        self.push_screen(AdoptScreen(message.client), message.adopted)

    def on_open_resume(self, message: OpenResume) -> None:
        self.resume(message.client, message.run_id, message.checkpoint)

    @work(exclusive=True, group="resume")
    @guarded("Resuming")
    async def resume(self, client: AgentClient, run_id: str, path: str) -> None:
        """The launch form of the run's profile, resuming from ``path``: it shows the exact
        command (the profile's resume arguments included) before a `y`."""
        try:
            status = await client.status(run_id)
            name = status.get("profile")
            if not name:
                raise ProfileError(f"{run_id} was not launched from a profile")
            profile = load_profile(find_profile(name, profile_dirs()))
            plan = resume_plan(profile, path, status.get("cwd"))
            profile.launch_args(plan.values)  # says now when the profile cannot resume
        except Exception as exc:  # a profile gone or without resume_args: said, not raised
            self.notify(str(exc), severity="error", timeout=20)
            return
        self.push_screen(self.launch_screen(client, plan))

    def on_detached(self, message: Detached) -> None:
        # Back to the runs, or out when the console was opened on this run alone.
        if len(self.screen_stack) > 2:
            self.pop_screen()
            self.notify(message.said)
        else:
            self.exit(message=message.said)

    def on_runs_screen_compare_marked(self, message: RunsScreen.CompareMarked) -> None:
        marks = message.marks

        async def page(run: dict[str, Any], since: int) -> dict[str, Any]:
            client = marks.handle(run["host"], run["id"])
            if (client is None or client.closed) and self.client_factory is not None:
                client = await self.host_client(run["host"])  # reconnects a dropped host
            if client is None:
                raise ConnectionError(f"{run['host']} is not connected")
            return dict(await client.metrics(run["id"], since))

        self.push_screen(CompareScreen(marks.runs(), page))
