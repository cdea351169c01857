"""The relay of a multi-node Slurm task (agent/slurm_task.py): carriage returns become
newlines, the launcher's end (exit code or signal) is the task's end, and a stop signal sent to
the whole step reaches the launcher without killing the relay first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from rdt_tui.agent.slurm_task import CarriageReturns

RELAY = "import sys; from rdt_tui.agent.slurm_task import relay; sys.exit(relay(sys.argv[1:]))"


def relay_proc(code: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    return subprocess.Popen(
        [sys.executable, "-c", RELAY, sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        env=env,
        start_new_session=True,  # its own group: the test signals it as Slurm signals a step
    )


def test_lone_carriage_returns_become_newlines_across_reads() -> None:
    cut = CarriageReturns()
    out = cut.feed(b"\rbar 1\rbar 2\r") + cut.feed(b"\ndone\r\nx\r") + cut.feed(b"y\n")
    assert out == b"\nbar 1\nbar 2\ndone\nx\ny\n"


def test_the_launchers_output_exit_code_and_signal_are_the_tasks() -> None:
    p = relay_proc("import sys; sys.stderr.write('\\r1\\r2'); print('\\nout'); sys.exit(3)")
    out, _ = p.communicate(timeout=30)
    assert (p.returncode, out) == (3, b"\n1\n2\nout\n")
    p = relay_proc("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    p.communicate(timeout=30)
    assert p.returncode == -signal.SIGKILL


def test_a_stop_signal_to_the_step_lets_the_launcher_finish_its_last_words() -> None:
    p = relay_proc(
        "import signal, sys, time\n"
        "def bye(*_):\n"
        "    time.sleep(0.5); print('saved on SIGTERM', flush=True); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    assert p.stdout is not None and p.stdout.readline() == b"ready\n"
    os.killpg(p.pid, signal.SIGTERM)  # what Slurm does: every process of the step
    started = time.monotonic()
    rest = p.stdout.read()
    assert p.wait(timeout=30) == 0 and rest == b"saved on SIGTERM\n"
    assert time.monotonic() - started < 20


def test_a_launcher_without_a_handler_still_ends_on_the_stop_signal() -> None:
    # The relay's own handlers must not be inherited as "ignored" by the launcher.
    p = relay_proc("import time; print('ready', flush=True); time.sleep(60)")
    assert p.stdout is not None and p.stdout.readline() == b"ready\n"
    os.killpg(p.pid, signal.SIGTERM)
    assert p.wait(timeout=30) == -signal.SIGTERM
