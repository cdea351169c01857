"""The autouse fixture in conftest.py: every test has its own user config, data and state
directories, so what a developer keeps in theirs (an extra profile broke the runs-screen
snapshots) cannot change a test."""

from __future__ import annotations

import os

import platformdirs
import pytest

from rdt_tui.agent.files import state_dir
from rdt_tui.config.paths import config_dir, data_dir, demo_dir
from rdt_tui.config.profiles import list_profiles, profile_dirs


def test_config_data_and_state_are_the_tests_own() -> None:
    mine = [config_dir(), data_dir(), state_dir()]
    assert len({os.path.dirname(p) for p in mine}) == 1  # one temporary root per test
    assert os.path.basename(os.path.dirname(mine[0])).startswith("rdt-u-")
    assert config_dir() != platformdirs.user_config_dir("rdt-tui")
    assert data_dir() != platformdirs.user_data_dir("rdt-tui")
    assert demo_dir().startswith(data_dir())
    assert not any(os.path.exists(p) for p in mine)  # empty: nothing of anyone's
    assert os.path.join(config_dir(), "runs") in profile_dirs()


def test_a_profile_in_the_developers_config_dir_is_not_seen(
    workdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The developer's own config dir, as platformdirs finds it, holding one extra profile.
    monkeypatch.setenv("XDG_CONFIG_HOME", workdir)
    runs = os.path.join(platformdirs.user_config_dir("rdt-tui"), "runs")
    os.makedirs(runs)
    with open(os.path.join(runs, "aaa-mine.toml"), "w") as fh:
        fh.write('command = ["true"]\n')
    assert "aaa-mine" not in dict(list_profiles())
