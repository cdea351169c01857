"""The app is the only navigator: screens post "open X" and never import each other, nor
config or transport (what they need is handed to them, as ``HostActions`` is), nor reach
into the app by ``getattr``."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

from textual.message import Message

import rdt_tui.tui.screens as screens_package
from rdt_tui.protocol.messages import RunSummary
from rdt_tui.tui import messages
from rdt_tui.tui.app import RdtApp, make_app
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.widgets.checkpoint_table import CheckpointTable

from .fakes import FakeClient
from .test_tui_dashboard import until, workers_done

SCREENS = Path(screens_package.__file__).parent
FORBIDDEN = ("rdt_tui.config", "rdt_tui.transport")


def _runtime_imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import that runs (not those under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    package = "rdt_tui.tui.screens"
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names = [f"{module}.{a.name}" for a in node.names]
            found += [(node.lineno, module)] + [(node.lineno, n) for n in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return found


def test_no_screen_imports_another_screen_config_or_transport() -> None:
    modules = {p.stem for p in SCREENS.glob("*.py")} - {"__init__"}
    assert {"dashboard", "launch_screen", "runs_screen", "hosts_screen"} <= modules
    # The dashboard's mixins (its live status, its alert checks) are parts of the dashboard,
    # not places of their own.
    own_parts = {"dashboard": {"live_status", "run_alerts"}, "run_alerts": {"live_status"}}
    wrong = []
    for path in sorted(SCREENS.glob("*.py")):
        allowed = own_parts.get(path.stem, set())
        for line, module in _runtime_imports(path):
            other = module.removeprefix("rdt_tui.tui.screens.").split(".")[0]
            others = modules - allowed - {path.stem}
            if module.startswith("rdt_tui.tui.screens.") and other in others:
                wrong.append(f"{path.name}:{line} imports the screen {other}")
            if module.startswith(FORBIDDEN):
                wrong.append(f"{path.name}:{line} imports {module}")
    assert not wrong, wrong


def test_no_screen_reaches_into_the_app_by_getattr() -> None:
    wrong = []
    for path in sorted(SCREENS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and node.args
                and "app" in ast.unparse(node.args[0])
            ):
                wrong.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert not wrong, wrong


def test_the_app_handles_every_open_message() -> None:
    """A message no one handles would make its key do nothing, silently."""
    asked = [
        cls
        for _, cls in inspect.getmembers(messages, inspect.isclass)
        if issubclass(cls, Message) and cls.__module__ == messages.__name__
    ]
    assert len(asked) >= 8
    missing = [cls.__name__ for cls in asked if not hasattr(RdtApp, cls.handler_name)]
    assert not missing, missing


class NoProfile(FakeClient):
    """A run started by a bare command, not from a profile."""

    async def status(self, run: str, progress: bool = False) -> RunSummary:
        return {"id": run, "status": "running", "profile": None}


async def test_resume_of_a_run_without_a_profile_is_said_and_the_dashboard_stays() -> None:
    async def open_run() -> tuple[Any, str]:
        return NoProfile(), "rdt-finetune-1"

    app = make_app(open_run)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, DashboardScreen))
        dash = app.screen
        await until(lambda: dash.query_one(CheckpointTable).row_count == 1)
        await pilot.press("r")
        said = "rdt-finetune-1 was not launched from a profile"
        await until(lambda: any(said in str(n.message) for n in app._notifications))
        await workers_done(app, "resume")
        assert app.screen is dash and app.is_running
