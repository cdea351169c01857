"""A process that carries a run's marker (launched by rdt-tui) is never offered for adoption,
even when it holds a GPU; an unmarked one beside it is. Real processes, the real /proc."""

from __future__ import annotations

import os
import subprocess
import sys

from rdt_tui.agent.adopt import candidates
from rdt_tui.agent.procs import RUN_ENV
from rdt_tui.agent.runs import RunStore

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_marked_process_is_no_candidate_an_unmarked_one_is(state_dir: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != RUN_ENV}
    marked = subprocess.Popen(SLEEP, env=dict(env, **{RUN_ENV: "launched-run"}))
    plain = subprocess.Popen(SLEEP, env=env)
    try:
        listed = [c["pid"] for c in candidates(RunStore(state_dir), {marked.pid, plain.pid})]
        assert plain.pid in listed  # a python process holding a GPU: offered
        assert marked.pid not in listed  # one of our runs: adopting it would make it twice
    finally:
        for proc in (marked, plain):
            proc.kill()
            proc.wait()
