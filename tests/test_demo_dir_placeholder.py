"""The shipped demo profile runs in the folder `rdt-tui demo` makes its dataset in (the user
data dir's `demo/`, `$RDT_TUI_DATA_DIR/demo`), not a fixed `~/.local/share/rdt-tui/demo`:
so `rdt-tui preflight localhost --profile demo` (the example of `preflight --help`), a launch
of `--profile demo` and the console's profile screen look where the dataset is."""

from __future__ import annotations

import os

import pytest

from rdt_tui.config.demo import shipped_demo_path
from rdt_tui.config.paths import demo_dir
from rdt_tui.config.profiles import load_profile


def test_the_demo_profile_runs_in_the_demo_folder_of_the_data_dir(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.path.join(str(tmp_path), "elsewhere")
    monkeypatch.setenv("RDT_TUI_DATA_DIR", data)
    profile = load_profile(shipped_demo_path())
    assert profile.cwd == os.path.join(data, "demo") == demo_dir()
    assert profile.launch_args()["cwd"] == os.path.join(data, "demo")


def test_demo_dir_in_a_profiles_cwd_and_other_braces(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "p.toml")
    with open(path, "w") as fh:
        fh.write('command = ["python", "train.py"]\ncwd = "{demo_dir}/sub/{other}"\n')
    profile = load_profile(path)
    assert profile.cwd == os.path.join(demo_dir(), "sub", "{other}")
