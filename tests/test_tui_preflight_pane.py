"""The preflight checklist's pane: the highlighted check's detail, hint and fix in full under
the table, and a FAIL without an automatic fix says what to do by hand (the real agent)."""

from __future__ import annotations

import os
import sys

import pytest
from textual.widgets import DataTable, Static

from rdt_tui.tui.app import make_console_app
from rdt_tui.tui.screens.hosts_screen import HostRow

from .test_tui_console import local_factory, to_profiles, until, user_config  # noqa: F401 (a fixture)

pytestmark = pytest.mark.asyncio


async def test_the_pane_shows_the_highlighted_check_and_what_to_do_by_hand(
    state_dir: str,
    workdir: str,
    user_config: str,  # noqa: F811
) -> None:
    runs_dir = os.path.join(workdir, "configs", "runs")
    os.makedirs(runs_dir)
    with open(os.path.join(workdir, "train.sh"), "w") as fh:
        fh.write("#!/bin/sh\necho step=1 loss=1\n")
    with open(os.path.join(runs_dir, "aa-checked.toml"), "w") as fh:
        fh.write(
            f'command = ["./train.sh"]\ncwd = "{workdir}"\n[env]\nWANDB_MODE = "offline"\n'
            f'[preflight]\npython = "{sys.executable}"\npackages = ["no_such_package_h16"]\n'
            'cpu = true\nhub = false\nscript = "train.sh"\n'
        )
    app = make_console_app([HostRow("localhost", "this machine", "")], local_factory(state_dir))
    async with app.run_test(size=(120, 40)) as pilot:
        runs = await to_profiles(app, pilot, "localhost")
        await pilot.press("p")
        checks = runs.query_one("#checks", DataTable)
        await until(lambda: checks.row_count > 3)
        pane = runs.query_one("#check-detail", Static)
        ids = [c["id"] for c in runs.checks]
        script = runs.checks[ids.index("script")]
        assert script["status"] == "fail" and script.get("fix")
        checks.move_cursor(row=ids.index("script"))
        await until(lambda: "FAIL  " in str(pane.render()) and "fix (f):" in str(pane.render()))
        assert script["fix"]["label"] in str(pane.render())
        assert pane.region.height >= 2 and pane.region.right <= 120  # on screen, not far right
        packages = runs.checks[ids.index("packages")]
        assert packages["status"] == "fail" and not packages.get("fix")
        checks.move_cursor(row=ids.index("packages"))
        await until(lambda: "by hand" in str(pane.render()))
        assert "no_such_package_h16" in str(pane.render())
        said: list[str] = []
        runs.notify = lambda message, **kw: said.append(str(message))  # type: ignore[method-assign]
        await pilot.press("f")
        assert said and "by hand" in said[0] and "nothing to fix" not in said[0]
