"""Preflight under Slurm (pure): the partition exists and is up, the request fits its limits,
and Slurm itself would take the job (``sbatch --test-only``, in Slurm's own words). The facts
come from the agent on the login node (agent/slurm_facts.py)."""

from typing import Any, Dict, List, Optional

from .checks import FAIL, PASS, WARN, check


def _seconds(text: Any) -> Optional[float]:
    """Slurm's ``[D-]HH:MM:SS`` / ``MM:SS`` / minutes; None for UNLIMITED and the like."""
    text = str(text or "")
    days, _, rest = text.partition("-") if "-" in text else ("0", "", text)
    parts = rest.split(":")
    if not rest or not days.isdigit() or not all(p.isdigit() for p in parts) or len(parts) > 3:
        return None
    nums = [int(p) for p in parts]
    if len(parts) == 1:
        total = nums[0] * 60  # a bare number is minutes
    elif len(parts) == 2:
        total = nums[0] * 60 + nums[1]
    else:
        total = nums[0] * 3600 + nums[1] * 60 + nums[2]
    return float(total + int(days) * 86400)


def slurm_checks(facts: Dict[str, Any], table: Dict[str, Any]) -> List[Dict[str, Any]]:
    if not facts.get("available"):
        return [
            check(
                "slurm",
                "Slurm",
                FAIL,
                'the profile says scheduler = "slurm" but this host has no sbatch',
                "launch on the cluster's login node, or drop `scheduler` from the profile",
            )
        ]
    out = [_partition(facts, table)]
    test = facts.get("test_only") or {}
    if test.get("ok"):
        out.append(check("slurm_test", "Slurm would take the job", PASS, test.get("words") or ""))
    else:
        out.append(
            check(
                "slurm_test",
                "Slurm would take the job",
                FAIL,
                "sbatch --test-only: " + str(test.get("words") or "no answer"),
                "fix the profile's [slurm] table (partition, account, qos, limits)",
            )
        )
    return out


def _partition(facts: Dict[str, Any], table: Dict[str, Any]) -> Dict[str, Any]:
    title = "Slurm partition"
    part = facts.get("partition")
    name = table.get("partition") or (part or {}).get("PartitionName") or "(default)"
    if not part:
        known = ", ".join(facts.get("partitions") or []) or "none"
        return check(
            "slurm_partition",
            title,
            FAIL,
            f"no partition {name} (this cluster has: {known})",
            "set [slurm] partition to one of them (see `sinfo`)",
        )
    problems = []
    nodes = int(table.get("nodes", 1))
    total = int(str(part.get("TotalNodes") or 0) or 0)
    if total and nodes > total:
        problems.append(f"{nodes} nodes asked, the partition has {total}")
    max_nodes = str(part.get("MaxNodes") or "UNLIMITED")
    if max_nodes.isdigit() and nodes > int(max_nodes):
        problems.append(f"{nodes} nodes asked, at most {max_nodes} per job")
    asked = _seconds(table.get("time")) if table.get("time") else None
    limit = _seconds(part.get("MaxTime"))
    if asked is not None and limit is not None and asked > limit:
        problems.append(f"time {table['time']} is over the partition's MaxTime {part['MaxTime']}")
    detail = f"{name}: state {part.get('State')}, {total} nodes, MaxTime {part.get('MaxTime')}"
    if problems:
        return check("slurm_partition", title, FAIL, detail + "; " + "; ".join(problems))
    if str(part.get("State")) != "UP":
        return check(
            "slurm_partition",
            title,
            WARN,
            detail + ": jobs wait until it is UP again",
            "ask the cluster's admins, or pick another partition",
        )
    return check("slurm_partition", title, PASS, detail)
