"""What preflight needs to know of Slurm on this (login) node: the partition the profile asks
for (``scontrol show partition``) and whether Slurm would take the job (``sbatch --test-only``
with the profile's options; nothing is submitted)."""

import os
import tempfile
from typing import Any, Dict, List

from ..core.slurm_script import SlurmOptionError, batch_script
from .slurm import _run, available, parse_show_job


def gather(table: Dict[str, Any], cwd: str) -> Dict[str, Any]:
    if not available():
        return {"available": False}
    out: Dict[str, Any] = {"available": True}
    _code, text, _err = _run(["scontrol", "show", "partition", "-o"], timeout=15)
    parts: List[Dict[str, str]] = [
        parse_show_job(line) for line in text.splitlines() if line.strip()
    ]
    out["partitions"] = [p.get("PartitionName", "") for p in parts]
    want = table.get("partition")
    found = [
        p for p in parts if (p.get("PartitionName") == want if want else p.get("Default") == "YES")
    ]
    out["partition"] = found[0] if found else None
    out["test_only"] = _test_only(table, cwd)
    return out


def _test_only(table: Dict[str, Any], cwd: str) -> Dict[str, Any]:
    try:
        script = batch_script(table, ["true"], "/nonexistent", "rdt-tui-preflight")
    except SlurmOptionError as exc:
        return {"ok": False, "words": str(exc)}
    with tempfile.NamedTemporaryFile("w", suffix=".sbatch", delete=False) as fh:
        fh.write("\n".join([*script.splitlines()[:-1], "true"]) + "\n")  # nothing runs
        path = fh.name
    try:
        code, out, err = _run(
            ["sbatch", "--test-only", f"--chdir={cwd}", "--output=/dev/null", path], timeout=30
        )
    finally:
        os.unlink(path)
    words = (err or out).strip()
    return {"ok": code == 0, "words": words}
