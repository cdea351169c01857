"""GPU attribution of an adopted run by its process tree, and the GPU holders among the
candidates, with real processes (the GPU rows are nvidia-smi's CSV, parsed as on a node)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from rdt_tui.agent.adopt import AdoptOps, RunOfTree, candidates
from rdt_tui.agent.gpu import parse_smi
from rdt_tui.agent.procs import start_time
from rdt_tui.agent.runs import RunStore

from .adopt_jobs import kill_tree, tree
from .test_adopt import start_job

GPU_ROW = ["0", "NVIDIA H100", "GPU-a", "90", "30000", "81920", "300", "700", "60", "1980"]


class Ops(AdoptOps):
    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.gpu_samples: list[Any] = []


def set_state(store: RunStore, run_id: str, **changes: Any) -> None:
    path = os.path.join(store.run_dir(run_id), "state.json")
    with open(path) as fh:
        state = json.load(fh)
    state.update(changes)
    with open(path + ".tmp", "w") as fh:
        json.dump(state, fh)
    os.replace(path + ".tmp", path)


def test_gpu_processes_are_the_adopted_runs_by_tree_and_by_start_time(
    state_dir: str, workdir: str
) -> None:
    (pid,) = start_job(workdir)
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (worker,) = tree(pid) - {pid}
        store = RunStore(state_dir)
        # A plain python job is a candidate once one of its processes holds a GPU: listed
        # by its topmost python process, the one to adopt.
        listed = candidates(store, {worker})
        assert [c["pid"] for c in listed] == [pid] and listed[0]["gpu"] is True
        run_id = Ops(store)._adopt({"pid": pid})
        # As if the worker had started after the last refresh: found through its parent.
        set_state(store, run_id, tree=[[pid, start_time(pid)]])
        rows = [["GPU-a", str(worker), "29000"], ["GPU-a", str(stranger.pid), "100"]]
        gpus = parse_smi([GPU_ROW], rows, RunOfTree(store))
        runs = {p["pid"]: p["run"] for p in gpus[0]["processes"]}
        assert runs == {worker: run_id, stranger.pid: None}
        # The recorded pid now names another process (start time differs): not the run's.
        set_state(store, run_id, pid=stranger.pid, start_time=start_time(pid), tree=[])
        assert RunOfTree(store)(stranger.pid) is None
        assert candidates(store, {worker})[0]["run"] is None  # the tree is gone from it
    finally:
        stranger.kill()
        stranger.wait()
        kill_tree(tree(pid))


def test_the_gpus_of_an_adopted_run_are_its_cuda_visible_devices(
    state_dir: str, workdir: str
) -> None:
    log = os.path.join(workdir, "x.log")
    code = "import time; time.sleep(60)"
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="2,3")
    with open(log, "w") as fh:
        picky = subprocess.Popen([sys.executable, "-c", code], stdout=fh, env=env)
        every = subprocess.Popen([sys.executable, "-c", code], stdout=fh)
    try:
        store = RunStore(state_dir)
        ops = Ops(store)
        assert store.spec(ops._adopt({"pid": picky.pid}))["gpus"] == ["2", "3"]
        assert store.spec(ops._adopt({"pid": every.pid}))["gpus"] is None  # every GPU
    finally:
        for p in (picky, every):
            p.kill()
            p.wait()


def test_a_state_directory_that_refuses_leaves_no_half_made_run(
    state_dir: str, workdir: str, monkeypatch: Any
) -> None:
    import errno

    import pytest

    from rdt_tui.agent import adopt
    from rdt_tui.protocol.errors import AgentError

    def full(*_: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with open(os.path.join(workdir, "x.log"), "w") as fh:
        job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdout=fh)
    try:
        store = RunStore(state_dir)
        monkeypatch.setattr(adopt.os, "symlink", full)
        with pytest.raises(AgentError, match="No space left") as err:
            Ops(store)._adopt({"pid": job.pid})
        assert "free space" in err.value.hint and store.run_ids() == []
    finally:
        job.kill()
        job.wait()
