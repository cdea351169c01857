"""A job's end from Slurm's accounting (``sacct``), for jobs slurmctld has forgotten.

slurmctld keeps an ended job for ``MinJobAge`` seconds only. Where the cluster keeps accounting
(slurmdbd), ``sacct`` still knows how the job ended, which the shim inside the job cannot know
when the job was killed around it (TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, PREEMPTED). Where there is
no accounting, sacct fails ("Slurm accounting storage is disabled") and the shim's record and
our last look say how it ended (agent/slurm.py). Standard library only.
"""

from typing import Callable, Dict, List, Optional, Tuple

# sacct's names, and the keys of ``scontrol show job`` each stands for in slurm.summarize()
FIELDS = (
    ("JobID", "JobId"),
    ("State", "JobState"),
    ("ExitCode", "ExitCode"),
    ("Reason", "Reason"),
    ("NodeList", "NodeList"),
    ("Start", "StartTime"),
    ("Timelimit", "TimeLimit"),
    ("Elapsed", "RunTime"),
)


def sacct_argv(job_id: str) -> List[str]:
    """One line per attempt of the job (``--duplicates``: a requeued job's earlier attempts
    too), the allocation only (``-X``), ``|``-separated without a header (``-n -P``)."""
    fields = ",".join(name for name, _ in FIELDS)
    return ["sacct", "-j", job_id, "-X", "--duplicates", "-n", "-P", f"--format={fields}"]


def parse_sacct(text: str, job_id: str) -> Optional[Dict[str, str]]:
    """The job's last attempt in ``scontrol show job``'s keys, ``Restarts`` counted from the
    attempts before it; None when sacct has no line for the job."""
    attempts = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) != len(FIELDS) or parts[0] != job_id:
            continue  # another job (an array's task), or a line that is not a record
        record = {key: value for (_, key), value in zip(FIELDS, parts)}
        # "CANCELLED by 1000": the state is the first word
        record["JobState"] = (record["JobState"].split() or ["UNKNOWN"])[0]
        attempts.append(record)
    if not attempts:
        return None
    last = dict(attempts[-1])
    last["Restarts"] = str(len(attempts) - 1)
    last["Source"] = "sacct"
    return last


def job_info(
    job_id: str, run: Callable[[List[str], float], Tuple[int, str, str]]
) -> Optional[Dict[str, str]]:
    """What accounting says of the job, None where there is none (or it does not answer)."""
    code, out, _err = run(sacct_argv(job_id), 15.0)
    return parse_sacct(out, job_id) if code == 0 else None
