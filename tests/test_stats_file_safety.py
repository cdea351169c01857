"""Writes of a statistics file lose nothing: two writes in the same second keep two backups
(an existing backup is never overwritten), two concurrent `rdt-tui stats` writes of
different entries both land, and a file another program rewrites during the computation is
left as that program wrote it."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time

import pytest

from rdt_tui.agent.preflight_ops import compute_stats
from rdt_tui.protocol.errors import AgentError

np = pytest.importorskip("numpy")
h5py = pytest.importorskip("h5py")

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "configs/dataset_stat.json"


def make(root: str, slow_python: str = "") -> str:
    """A dataset, a hand-edited statistics file, and (when asked) a training interpreter that
    first runs ``slow_python`` as a shell line (sleep, or another program's write)."""
    rng = np.random.default_rng(5)
    os.makedirs(os.path.join(root, "data"))
    os.makedirs(os.path.join(root, "configs"))
    for i in range(2):
        with h5py.File(os.path.join(root, "data", f"ep{i}.hdf5"), "w") as f:
            f["observations/qpos"] = rng.normal(0.3, 0.6, (40, 14))
    with open(os.path.join(root, NAME), "w") as fh:
        fh.write('{"by_hand": {"dataset_name": "by_hand", "note": "edited on the node"}}\n')
    if not slow_python:
        return PY
    wrapper = os.path.join(root, "python")
    with open(wrapper, "w") as fh:
        fh.write(f'#!/bin/sh\n{slow_python}\nexec "{PY}" "$@"\n')
    os.chmod(wrapper, 0o755)
    return wrapper


def profile(root: str, name: str, python: str) -> str:
    path = os.path.join(root, f"{name}.toml")
    with open(path, "w") as fh:
        fh.write(
            f'command = ["true"]\ncwd = "{root}"\n[preflight]\npython = "{python}"\n'
            f'dataset_dir = "data"\nstats_file = "{NAME}"\ndataset_name = "{name}"\n'
            f'stats_keys = ["observations/qpos"]\nstats_index_map = {list(range(14))}\n'
        )
    return path


def read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def cli(state_dir: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, RDT_TUI_STATE_DIR=state_dir, PYTHONPATH=REPO)
    return subprocess.Popen(
        [PY, "-m", "rdt_tui.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_writes_in_the_same_second_keep_every_backup(workdir: str) -> None:
    make(workdir)
    path = os.path.join(workdir, NAME)
    # Backups already named for this second and the next few (say, an earlier write's, or a
    # copy the user made by hand): none may be overwritten.
    now = time.time()
    taken = {}
    for s in range(6):
        name = "{}.bak-{}".format(path, time.strftime("%Y%m%d-%H%M%S", time.localtime(now + s)))
        taken[name] = f"backup {s}".encode()
        with open(name, "wb") as fh:
            fh.write(taken[name])
    params = {
        "python": PY,
        "dataset_dir": "data",
        "stats_file": NAME,
        "stats_keys": ["observations/qpos"],
        "stats_index_map": list(range(14)),
    }
    contents = [read(path)]
    backups = []
    for name in ("first", "second"):
        done = compute_stats(dict(params, dataset_name=name), workdir, "rdt", write=True)
        backups.append(done["backup"])
        contents.append(read(path))
    for name, data in taken.items():
        assert read(name) == data, name
    assert len(set(backups)) == 2 and not set(backups) & set(taken)
    assert [read(b) for b in backups] == contents[:2]  # each holds what it replaced
    assert set(json.loads(contents[2])) == {"by_hand", "first", "second"}


def test_concurrent_writes_of_different_entries_both_land(state_dir: str, workdir: str) -> None:
    # Each computation takes 1.5 s, so the two overlap: without the lock both read the file
    # before either writes, and the second write drops the first one's entry.
    python = make(workdir, "sleep 1.5")
    path = os.path.join(workdir, NAME)
    original = read(path)
    procs = [
        cli(state_dir, "stats", "localhost", "--profile", profile(workdir, name, python), "--json")
        for name in ("left", "right")
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    doc = json.loads(read(path))
    assert set(doc) == {"by_hand", "left", "right"}
    backups = [json.loads(out)["backup"] for out, _ in outs]
    assert len(set(backups)) == 2
    assert original in [read(b) for b in backups]


def test_a_file_changed_during_the_computation_is_left_as_the_other_program_wrote_it(
    workdir: str,
) -> None:
    path = os.path.join(workdir, NAME)
    # Another program (an editor, finetune.sh running the project's own script) rewrites
    # the file while our statistics are being computed.
    python = make(workdir, f"printf '{{\"theirs\": {{}}}}\\n' > '{path}'")
    params = {
        "python": python,
        "dataset_dir": "data",
        "stats_file": NAME,
        "dataset_name": "ours",
        "stats_keys": ["observations/qpos"],
        "stats_index_map": list(range(14)),
    }
    with pytest.raises(AgentError, match="changed while the statistics were computed"):
        compute_stats(params, workdir, "rdt", write=True)
    assert read(path) == b'{"theirs": {}}\n'
    assert not glob.glob(path + ".bak-*")


def test_a_held_lock_is_waited_for_within_the_timeout_then_refused(workdir: str) -> None:
    import fcntl

    make(workdir)
    path = os.path.join(workdir, NAME)
    original = read(path)
    params = {
        "python": PY,
        "dataset_dir": "data",
        "stats_file": NAME,
        "dataset_name": "late",
        "stats_keys": ["observations/qpos"],
    }
    with open(path + ".lock", "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another write under way
        with pytest.raises(AgentError, match="another statistics write"):
            compute_stats(params, workdir, "rdt", write=True, timeout=1.0)
    assert read(path) == original
