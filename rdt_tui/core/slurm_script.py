"""The batch script of a run under Slurm, made from the profile's ``[slurm]`` table (pure).

Every value goes into an ``#SBATCH`` line only after a check that it is one token Slurm reads
as we mean it (no whitespace, no quote, no newline); the one command line of the script is
the shim's argv, each word through ``shlex.quote``. The job's own command is never in the
script: the shim reads it from the run's spec.json, so no user string is spliced into a shell.
Paths that may hold spaces (the output file, the working directory) go on sbatch's argv.
"""

import json
import re
import shlex
from typing import Any, Dict, List, Optional

# [slurm] key -> the sbatch option it becomes (None: handled apart)
OPTIONS = {
    "partition": "--partition",
    "nodes": "--nodes",
    "gpus_per_node": "--gpus-per-node",
    "gres": "--gres",
    "cpus_per_task": "--cpus-per-task",
    "mem": "--mem",
    "time": "--time",
    "account": "--account",
    "qos": "--qos",
    "constraint": "--constraint",
}
INT_KEYS = ("nodes", "gpus_per_node", "cpus_per_task")
STR_KEYS = ("partition", "gres", "mem", "time", "account", "qos", "constraint")
ALL_KEYS = (*OPTIONS, "extra", "requeue")
_TOKEN = re.compile(r"^[A-Za-z0-9_.:,=+/@%\[\]|&!*()-]+$")
_EXTRA = re.compile(r"^#SBATCH --?[A-Za-z][A-Za-z0-9-]*(=[A-Za-z0-9_.:,=+/@%\[\]|&!*()-]+)?$")


class SlurmOptionError(ValueError):
    """A [slurm] value that cannot go into a batch script as it is."""


def check_options(table: Dict[str, Any]) -> Dict[str, Any]:
    """The [slurm] table checked: known keys, right types, values that are one safe token."""
    unknown = sorted(set(table) - set(ALL_KEYS))
    if unknown:
        raise SlurmOptionError(
            "unknown [slurm] key(s) {}; known: {}".format(", ".join(unknown), ", ".join(ALL_KEYS))
        )
    out: Dict[str, Any] = {}
    for key in INT_KEYS:
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SlurmOptionError(f"[slurm] {key} must be a whole number of at least 1")
            out[key] = value
    for key in STR_KEYS:
        if key in table:
            value = table[key]
            if not isinstance(value, str) or not _TOKEN.match(value):
                raise SlurmOptionError(
                    f"[slurm] {key} = {value!r} is not one word Slurm reads as is "
                    "(no spaces, quotes or newlines)"
                )
            out[key] = value
    if "gres" in out and "gpus_per_node" in out:
        raise SlurmOptionError("[slurm] give gpus_per_node or gres, not both")
    extra = table.get("extra", [])
    if not isinstance(extra, list) or not all(isinstance(x, str) for x in extra):
        raise SlurmOptionError(
            '[slurm] extra must be a list of lines, e.g. ["#SBATCH --exclusive"]'
        )
    for line in extra:
        if not _EXTRA.match(line.strip()):
            raise SlurmOptionError(
                f"[slurm] extra line {line!r} is not one `#SBATCH --option[=value]` line"
            )
    out["extra"] = [x.strip() for x in extra]
    requeue = table.get("requeue", False)
    if not isinstance(requeue, bool):
        raise SlurmOptionError("[slurm] requeue must be true or false")
    out["requeue"] = requeue
    return out


def batch_script(
    table: Dict[str, Any], shim_argv: List[str], run_dir: str, name: Optional[str] = None
) -> str:
    """The script sbatch reads: #SBATCH lines from the table, then exec of the run's shim."""
    opts = check_options(table)
    lines = ["#!/bin/bash"]
    if name:
        lines.append("#SBATCH --job-name=" + re.sub(r"[^A-Za-z0-9._-]+", "-", name)[:64])
    for key, flag in OPTIONS.items():
        if key in opts:
            lines.append(f"#SBATCH {flag}={opts[key]}")
    if opts.get("nodes", 1) > 1:
        lines.append("#SBATCH --ntasks-per-node=1")
    lines.append("#SBATCH --requeue" if opts["requeue"] else "#SBATCH --no-requeue")
    lines.extend(opts["extra"])
    lines.append("# The job's command is in spec.json; our shim runs it and records its exit.")
    lines.append("exec " + " ".join(shlex.quote(a) for a in [*shim_argv, "shim", run_dir]))
    return "\n".join(lines) + "\n"


def sbatch_argv(script_path: str, run_dir: str, cwd: str) -> List[str]:
    """sbatch's own argv: paths here, never in the script (they may hold spaces)."""
    return [
        "sbatch",
        "--parsable",
        "--output=" + run_dir + "/slurm-%j.out",
        "--chdir=" + cwd,
        script_path,
    ]


def task_argv(
    nodes: int, shim_argv: List[str], argv: List[str], resume: Optional[Dict[str, Any]] = None
) -> List[str]:
    """The job's command inside the allocation. Several nodes: one srun task per node, each
    filling the rendezvous from Slurm's environment before it starts the launcher. With
    ``resume`` (requeue = true and resume_args): a requeued attempt resumes from the newest
    checkpoint (see agent/slurm.py task_main)."""
    if nodes <= 1 and not resume:
        return list(argv)
    task = [*shim_argv, "slurm-task"]
    if nodes > 1:  # the nodes share one output file: see agent/slurm_task.py relay()
        task.append("--lines")
    if resume:
        task += ["--resume", json.dumps(resume, sort_keys=True)]
    task += ["--", *argv]
    if nodes <= 1:
        return task
    return ["srun", f"--nodes={nodes}", "--ntasks-per-node=1", "--kill-on-bad-exit=1", *task]


def preview(table: Dict[str, Any], argv: List[str], name: Optional[str] = None) -> str:
    """What the launch form shows before `l`/`y`: the batch script as it will be submitted
    (the agent's path and the run's directory are known only on the host), and the command
    our shim starts inside the allocation."""
    agent = ["<agent>"]
    script = batch_script(table, agent, "<run dir>", name)
    command = task_argv(int(check_options(table).get("nodes", 1)), agent, argv)
    return script + "# where the shim runs: " + " ".join(shlex.quote(a) for a in command) + "\n"
