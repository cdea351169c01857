"""The shim's exit record comes after the job's whole output: whoever sees exit.json (a
subscriber told the run ended, `rdt logs` after `rdt stop`) must find every byte in the log."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# Run in a child: the pump reaps every child of its process and sets SIGCHLD's handling.
PUMP = r"""
import fcntl, json, os, subprocess, sys, time
from rdt_tui.agent import shim

run_dir = sys.argv[1]
log = os.path.join(run_dir, "output.log")
shim.CHUNK = 4096  # one read takes a little of what the pipe holds
read_fd, write_fd = os.pipe()
fcntl.fcntl(write_fd, shim.F_SETPIPE_SZ, shim.PIPE_SIZE)
JOB = "import sys\nfor _ in range(2000): sys.stdout.write('x' * 99 + '\\n')\nprint('the end')"
job = subprocess.Popen([sys.executable, "-c", JOB], stdout=write_fd)
os.close(write_fd)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:  # exited, not reaped: its output waits in the pipe
    with open("/proc/%d/stat" % job.pid) as fh:
        if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
            break
    time.sleep(0.01)
seen = {}
finish = shim._finish_record


def spy(run_dir, record, key, slot):
    seen["log_size"] = os.path.getsize(log)
    return finish(run_dir, record, key, slot)


shim._finish_record = spy
slot = shim.Slot(os.path.join(run_dir, "exit.tmp"))
shim._pump(job, read_fd, shim.LogSink(log, slot), run_dir, "k" * 32, slot, None)
seen["total"] = os.path.getsize(log)
print(json.dumps(seen))
"""


def test_exit_record_is_written_after_the_pipe_is_drained(tmp_path: os.PathLike[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PUMP, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    seen = json.loads(out.stdout)
    assert seen["total"] == 2000 * 100 + len("the end\n")
    assert seen["log_size"] == seen["total"], "exit.json was written before the whole output"
    with open(os.path.join(str(tmp_path), "exit.json")) as fh:
        assert json.load(fh)["code"] == 0
