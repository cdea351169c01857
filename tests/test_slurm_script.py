"""The batch script builder and the parsing of Slurm's answers, without a Slurm (pure)."""

from __future__ import annotations

import pytest

from rdt_tui.agent.slurm import STATES, parse_show_job
from rdt_tui.core.slurm_script import SlurmOptionError, batch_script, check_options, preview


def test_preview_is_the_submitted_script_with_the_hosts_paths_left_out() -> None:
    table = {"partition": "gpu", "nodes": 2, "gpus_per_node": 4, "requeue": True}
    text = preview(table, ["python", "train.py", "--name", "it's $(id)"], "demo")
    assert "#SBATCH --nodes=2\n" in text and "#SBATCH --ntasks-per-node=1\n" in text
    assert "#SBATCH --gpus-per-node=4" in text and "#SBATCH --requeue" in text
    # The user's words reach the shim as quoted argv, never as shell code.
    assert "'it'\"'\"'s $(id)'" in text
    srun = "srun --nodes=2 --ntasks-per-node=1 --kill-on-bad-exit=1"
    assert srun + " '<agent>' slurm-task --lines" in text


def test_the_script_quotes_the_shims_argv_and_holds_no_user_command() -> None:
    script = batch_script({}, ["/opt/my python/bin/python3", "-m", "rdt_tui.agent"], "/r/a b")
    assert script.splitlines()[-1] == (
        "exec '/opt/my python/bin/python3' -m rdt_tui.agent shim '/r/a b'"
    )
    assert "#SBATCH --no-requeue" in script


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"nodes": 0}, "at least 1"),
        ({"nodes": True}, "at least 1"),
        ({"nodes": "2"}, "at least 1"),
        ({"partition": "gpu\n#SBATCH --uid=0"}, "not one word"),
        ({"mem": "64 G"}, "not one word"),
        ({"account": "a'b"}, "not one word"),
        ({"gres": "gpu:1", "gpus_per_node": 1}, "not both"),
        ({"extra": "#SBATCH --exclusive"}, "list of lines"),
        ({"extra": ["--exclusive"]}, "is not one `#SBATCH"),
        ({"extra": ["#SBATCH --exclusive\nrm -rf ~"]}, "is not one `#SBATCH"),
        ({"extra": ["#SBATCH --comment=$(id)"]}, "is not one `#SBATCH"),
        ({"requeue": "yes"}, "true or false"),
        ({"partitions": "gpu"}, "unknown [slurm] key"),
    ],
)
def test_bad_slurm_values_are_refused_with_the_key(table: dict, words: str) -> None:
    with pytest.raises(SlurmOptionError) as err:
        check_options(table)
    assert words in str(err.value)


def test_scontrol_show_job_one_line_is_parsed_with_spaces_in_values() -> None:
    line = (
        "JobId=12 JobName=my job JobState=PENDING Reason=Resources Dependency=(null) "
        "Restarts=1 ExitCode=0:0 StartTime=2030-01-01T10:00:00 NodeList=(null) "
        "Command=/home/a b/job.sbatch WorkDir=/home/a b"
    )
    info = parse_show_job(line)
    assert info["JobName"] == "my job" and info["JobState"] == "PENDING"
    assert info["Reason"] == "Resources" and info["Restarts"] == "1"
    assert info["Command"] == "/home/a b/job.sbatch" and info["WorkDir"] == "/home/a b"


def test_every_slurm_end_state_has_a_status() -> None:
    assert STATES["TIMEOUT"] == "timeout" and STATES["NODE_FAIL"] == "node_fail"
    assert STATES["PREEMPTED"] == "preempted" and STATES["REQUEUED"] == "requeued"
    assert STATES["CANCELLED"] == "stopped" and STATES["PENDING"] == "pending"
