"""``rdt-tui demo`` makes its dataset in a child process (the command line never imports the demo
job): a failing or wedged maker ends in a clear message, never a traceback or an endless wait."""

from __future__ import annotations

import os
import stat

import pytest

from rdt_tui.config.demo import DATASET_NAME, DemoUnavailable, ensure_dataset


def _script(workdir: str, body: str) -> str:
    path = os.path.join(workdir, "fake-python")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def test_a_wedged_dataset_maker_is_stopped_with_a_message(workdir: str) -> None:
    python = _script(workdir, "exec sleep 30")
    with pytest.raises(DemoUnavailable, match=r"took over 0\.5 s and was stopped"):
        ensure_dataset(os.path.join(workdir, "demo"), python=python, timeout=0.5)
    assert not os.path.exists(os.path.join(workdir, "demo", DATASET_NAME))


def test_a_failing_dataset_maker_shows_its_error(workdir: str) -> None:
    python = _script(workdir, "echo 'no module named h5py' >&2; exit 1")
    with pytest.raises(DemoUnavailable, match="failed: no module named h5py"):
        ensure_dataset(os.path.join(workdir, "demo"), python=python)


def test_a_missing_interpreter_is_a_message_not_a_traceback(workdir: str) -> None:
    with pytest.raises(DemoUnavailable, match=r"failed: .*No such file"):
        ensure_dataset(os.path.join(workdir, "demo"), python=os.path.join(workdir, "nope"))


def test_an_existing_dataset_is_not_made_again(workdir: str) -> None:
    demo = os.path.join(workdir, "demo")
    os.makedirs(demo)
    open(os.path.join(demo, DATASET_NAME), "w").close()
    python = _script(workdir, "exit 1")  # would fail if it ran
    assert ensure_dataset(demo, python=python) == os.path.join(demo, DATASET_NAME)
