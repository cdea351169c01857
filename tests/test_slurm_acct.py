"""A job slurmctld has forgotten: its end from ``sacct`` where the cluster keeps accounting,
else (sacct present but failing, as in the lab: no slurmdbd) from the shim's record.

The parsing is checked on sacct's own output format (``sacct -n -P``: ``|``-separated fields
in the order of ``--format``, no header; ``--duplicates`` lists a requeued job's attempts;
``State`` of a cancelled job reads ``CANCELLED by UID``). The lab's Slurm has no accounting
database, so the one test of an answering sacct puts a script printing that format first on
PATH; scontrol stays the lab's real one (it answers "Invalid job id")."""

from __future__ import annotations

import os
import stat

import pytest

from rdt_tui.agent import slurm_acct
from rdt_tui.agent.runs import RunStore
from rdt_tui.agent.slurm import _run

from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture
from .test_slurm_gone import gone_run

ARGV = ["sacct", "-j", "4242", "-X", "--duplicates", "-n", "-P"]
FORMAT = "--format=JobID,State,ExitCode,Reason,NodeList,Start,Timelimit,Elapsed"
# What sacct prints for a job requeued once, then cancelled (by uid 1000) on two nodes
REQUEUED_THEN_CANCELLED = (
    "4242|REQUEUED|0:0|None|n1|2026-12-01T10:00:01|01:00:00|00:05:12\n"
    "4242|CANCELLED by 1000|0:15|None|n[1-2]|2026-12-01T10:06:40|01:00:00|00:10:03\n"
)


def test_sacct_is_asked_for_every_attempt_of_the_allocation() -> None:
    assert slurm_acct.sacct_argv("4242") == [*ARGV, FORMAT]


def test_the_last_attempt_is_the_end_and_the_others_count_as_restarts() -> None:
    info = slurm_acct.parse_sacct(REQUEUED_THEN_CANCELLED, "4242")
    assert info == {
        "JobId": "4242",
        "JobState": "CANCELLED",
        "ExitCode": "0:15",
        "Reason": "None",
        "NodeList": "n[1-2]",
        "StartTime": "2026-12-01T10:06:40",
        "TimeLimit": "01:00:00",
        "RunTime": "00:10:03",
        "Restarts": "1",
        "Source": "sacct",
    }


@pytest.mark.parametrize(
    "text",
    [
        "",  # accounting has not heard of the job
        "4243|TIMEOUT|0:0|None|n1|Unknown|00:01:00|00:01:00\n",  # another job
        "4242_1|COMPLETED|0:0|None|n1|2026-12-01T10:00:01|01:00:00|00:00:03\n",  # an array task
        "sacct: error: Problem talking to the database: Connection refused\n",
    ],
)
def test_no_record_of_the_job_is_none(text: str) -> None:
    assert slurm_acct.parse_sacct(text, "4242") is None


def test_the_labs_sacct_fails_and_the_shims_record_says_how_it_ended(
    slurm: SlurmLab,  # noqa: F811
    state_dir: str,
) -> None:
    code, _out, err = _run(slurm_acct.sacct_argv("987654"))
    assert code != 0 and "accounting storage is disabled" in err  # the real sacct, no slurmdbd
    assert slurm_acct.job_info("987654", _run) is None
    store = RunStore(state_dir)
    run_id = gone_run(store, {"state": "RUNNING", "reason": "None", "exit": "0:0"}, 4)
    s = store.summary(run_id)
    assert s["status"] == "exited" and s["exit_code"] == 4 and s["slurm_state"] == "RUNNING", s


def test_a_forgotten_job_ends_as_accounting_says(
    slurm: SlurmLab,  # noqa: F811
    state_dir: str,
    workdir: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Killed at its time limit around the shim (no exit record): without accounting our last
    look (RUNNING) could only say "lost"; sacct says TIMEOUT."""
    bin_dir = os.path.join(workdir, "bin")
    os.makedirs(bin_dir)
    sacct = os.path.join(bin_dir, "sacct")
    with open(sacct, "w") as fh:
        fh.write(
            "#!/bin/sh\n"
            f'[ "$*" = "-j 987654 {" ".join(ARGV[3:])} {FORMAT}" ] || exit 2\n'
            "echo '987654|TIMEOUT|0:0|None|n2|2026-12-01T10:00:01|00:01:00|00:01:02'\n"
        )
    os.chmod(sacct, os.stat(sacct).st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", bin_dir + os.pathsep + os.environ["PATH"])
    store = RunStore(state_dir)
    run_id = gone_run(store, {"state": "RUNNING", "reason": "None", "exit": "0:0"}, None)
    s = store.summary(run_id)
    assert s["status"] == "timeout" and s["slurm_state"] == "TIMEOUT", s
    assert s["nodes"] == "n2" and "Slurm ended the job: TIMEOUT" in s["error"]
    # Settled: the next look asks neither scontrol nor sacct (nothing on PATH answers now)
    monkeypatch.setenv("PATH", workdir)
    assert store.summary(run_id)["status"] == "timeout"
