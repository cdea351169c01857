"""The profile keys of a run under Slurm: ``scheduler`` and the ``[slurm]`` table.

scheduler = "slurm"            # "local" (the default): our shim on the host itself
[slurm]
partition = "gpu"
nodes = 2                      # > 1: one srun task per node, rendezvous from Slurm
gpus_per_node = 4              # or gres = "gpu:a100:4"
cpus_per_task = 16
mem = "64G"
time = "12:00:00"
account = "robotics"
qos = "normal"
constraint = "a100"
extra = ["#SBATCH --exclusive"]
requeue = true
"""

from __future__ import annotations

from typing import Any

from ..core.slurm_script import SlurmOptionError, check_options

SCHEDULERS = ("local", "slurm")


def slurm_keys(path: str, data: dict[str, Any]) -> dict[str, Any]:
    """``scheduler`` and ``slurm`` as Profile fields; ValueError names the file and the key."""
    scheduler = data.get("scheduler", "local")
    if scheduler not in SCHEDULERS:
        raise ValueError(f'{path}: `scheduler` must be "local" or "slurm", not {scheduler!r}')
    table = data.get("slurm", {})
    if not isinstance(table, dict):
        raise ValueError(f'{path}: `[slurm]` must be a table (partition = "gpu", nodes = 1, ...)')
    if table and scheduler != "slurm":
        raise ValueError(f'{path}: a `[slurm]` table needs `scheduler = "slurm"`')
    try:
        checked = check_options(table)
    except SlurmOptionError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if scheduler == "slurm" and data.get("hosts"):
        raise ValueError(
            f"{path}: under Slurm the nodes come from the scheduler: drop `hosts`, "
            "set [slurm] nodes instead"
        )
    return {"scheduler": scheduler, "slurm": checked if scheduler == "slurm" else {}}


def slurm_nodes(data: dict[str, Any]) -> int:
    """How many nodes a profile's [slurm] table asks for (1 when it does not say)."""
    table = data.get("slurm")
    nodes = table.get("nodes", 1) if isinstance(table, dict) else 1
    return nodes if isinstance(nodes, int) and not isinstance(nodes, bool) else 1
