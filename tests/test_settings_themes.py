"""Settings and theme files: clear errors that name the file."""

from __future__ import annotations

import os

import pytest


def test_bad_theme_and_settings_files_name_the_file(workdir: str) -> None:
    from rdt_tui.config.settings import SettingsError, load_settings
    from rdt_tui.config.themes import ThemeError, load_theme_file

    bad_theme = os.path.join(workdir, "t.toml")
    with open(bad_theme, "w") as fh:
        fh.write('name = "x"\nprimary = "#fff"\ncolour = "red"\n')
    with pytest.raises(ThemeError, match=r"t\.toml: unknown key 'colour'"):
        load_theme_file(bad_theme)
    bad_settings = os.path.join(workdir, "s.toml")
    with open(bad_settings, "w") as fh:
        fh.write("theme = [1]\n")
    with pytest.raises(SettingsError, match=r"s\.toml"):
        load_settings(bad_settings)
