"""What a screen asks of the app: "open this place". Screens post these messages; the app is
the only navigator (it builds the screen asked for, with what that screen needs, and pushes
it), so no screen imports another and none reaches into the app.

A message carries what the next screen is about (a client, a run, a plan), never how to
build it: the app adds the rest (the shared run marks, the other hosts' connect, the
profiles).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

from ..client import AgentClient
from ..client.group import GroupReport

if TYPE_CHECKING:  # a type only: screens are handed profiles, they never load them
    from ..config.profiles import Profile

# A host's name -> its connected client (made on first use, shared by every screen).
Connect = Callable[[str], Awaitable[AgentClient]]


@dataclass
class GroupContext:
    """A multi-node job: every host's client and run, and whether to stop them together."""

    clients: dict[str, AgentClient]
    report: GroupReport
    stop_together: bool = True


class OpenRuns(Message):
    """Open a host's runs and profiles."""

    def __init__(self, client: AgentClient) -> None:
        super().__init__()
        self.client = client


class OpenDashboard(Message):
    """Open a run's dashboard; ``replace`` takes the place of the screen that asked (a launch
    form becomes the dashboard of what it launched)."""

    def __init__(
        self,
        client: AgentClient,
        run_id: str,
        group: GroupContext | None = None,
        replace: bool = False,
    ) -> None:
        super().__init__()
        self.client = client
        self.run_id = run_id
        self.group = group
        self.replace = replace


class OpenLaunch(Message):
    """Open the launch form of a profile."""

    def __init__(self, client: AgentClient, profile: Profile) -> None:
        super().__init__()
        self.client = client
        self.profile = profile


class OpenResume(Message):
    """Open the launch form of the profile ``run_id`` was launched from, resuming from the
    checkpoint at ``checkpoint`` (said, not opened, when the run has no profile that resumes)."""

    def __init__(self, client: AgentClient, run_id: str, checkpoint: str) -> None:
        super().__init__()
        self.client = client
        self.run_id = run_id
        self.checkpoint = checkpoint


class OpenCluster(Message):
    """Open every GPU of ``hosts``, each reached through ``connect``; ``runs``: host -> the
    Slurm run whose job's nodes' GPUs to show there instead of the host's own."""

    def __init__(
        self, hosts: list[str], connect: Callable[[str], Any], runs: dict[str, str] | None = None
    ) -> None:
        super().__init__()
        self.hosts = hosts
        self.connect = connect
        self.runs = runs or {}


class OpenQueue(Message):
    """Open a host's Slurm queue."""

    def __init__(self, client: AgentClient) -> None:
        super().__init__()
        self.client = client


class OpenAdopt(Message):
    """Open the picker of runs started by hand; ``adopted`` gets the new run's id (None when
    the user cancelled)."""

    def __init__(self, client: AgentClient, adopted: Callable[[str | None], None]) -> None:
        super().__init__()
        self.client = client
        self.adopted = adopted


class Detached(Message):
    """The user left a run's dashboard (the run keeps going): back to where they came from,
    or out of the console when it was opened on this run alone. ``said`` tells them so."""

    def __init__(self, said: str) -> None:
        super().__init__()
        self.said = said
