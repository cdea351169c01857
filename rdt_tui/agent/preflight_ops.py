"""The agent's preflight operations: gather facts, hash a dataset, compute and write dataset
statistics, apply a simple fix. Mixed into ``AgentService``; each heavy step runs in a worker
thread (or a child process) so the daemon keeps serving runs meanwhile."""

import asyncio
import json
import os
import stat
import subprocess
import time
from typing import Any, Dict, List, Optional, Tuple

from ..core.stats import check_entry, entry_changes, make_entry, parse_stats
from ..protocol import errors
from ..protocol.errors import AgentError
from . import facts, manifest
from .files import write_atomic
from .hoststats import disk

# Where this code lives (the zipapp, or the source tree): the statistics job runs from it
# under the training interpreter.
CODE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATS_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); from rdt_tui.agent.statsjob import main; main()"
)


def _path(cwd: Optional[str], path: str) -> str:
    path = os.path.expanduser(path)
    if cwd and not os.path.isabs(path):
        path = os.path.join(os.path.expanduser(cwd), path)
    return os.path.normpath(path)


def run_stats_job(python: str, request: Dict[str, Any]) -> Dict[str, Any]:
    try:
        done = subprocess.run(
            [python, "-c", STATS_BOOT, CODE_ROOT],
            input=json.dumps(request).encode(),
            capture_output=True,
        )
    except OSError as exc:
        raise AgentError(
            errors.STATS_FAILED, f"cannot run {python}: {exc}", "set preflight.python"
        ) from None
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        out = json.loads(lines[-1])
    except (ValueError, IndexError):
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise AgentError(
            errors.STATS_FAILED, "the statistics job failed: " + " | ".join(tail), ""
        ) from None
    if "error" in out:
        raise AgentError(errors.STATS_FAILED, str(out["error"]), "fix the dataset or the keys")
    return dict(out)


def compute_stats(params: Dict[str, Any], cwd: Optional[str], method: str, write: bool):
    """The new entry, what it changes, and (when ``write``) the rewritten file and its backup.

    The file is read and parsed first: one that does not parse, or cannot be written, is
    refused before any work, and is never touched."""
    if method not in ("rdt", "plain"):
        raise AgentError(errors.BAD_REQUEST, f"unknown method {method!r}", "use rdt or plain")
    name = params.get("dataset_name")
    keys = params.get("stats_keys") or []
    if not (params.get("stats_file") and params.get("dataset_dir") and name and keys):
        raise AgentError(
            errors.BAD_REQUEST,
            "computing statistics needs preflight.stats_file, dataset_dir, dataset_name and "
            "stats_keys",
            "add them to the profile (docs/profiles.md)",
        )
    path = _path(cwd, params["stats_file"])
    doc: Dict[str, Any] = {}
    old_bytes: Optional[bytes] = None
    if os.path.exists(path):
        with open(path, "rb") as fh:
            old_bytes = fh.read()
        parsed, why = parse_stats(old_bytes.decode("utf-8", "replace"))
        if parsed is None:
            raise AgentError(
                errors.STATS_UNWRITABLE,
                f"{path} is {why}; it was left unchanged",
                "restore it (git, a .bak- copy) before computing new statistics into it",
            )
        doc = parsed
    parent = os.path.dirname(path)
    while not os.path.exists(parent) and parent != os.path.dirname(parent):
        parent = os.path.dirname(parent)  # a new file: its nearest existing directory
    if write and not os.access(path if old_bytes is not None else parent, os.W_OK):
        raise AgentError(
            errors.STATS_UNWRITABLE,
            f"{path} is not writable; it was left unchanged",
            "fix its permissions, or point preflight.stats_file elsewhere",
        )
    computed = run_stats_job(
        os.path.expanduser(str(params.get("python") or "python3")),
        {
            "directory": _path(cwd, params["dataset_dir"]),
            "pattern": params.get("dataset_glob") or "*.hdf5",
            "keys": keys,
        },
    )
    state_dim = int(params.get("state_dim") or 128)
    try:
        entry = make_entry(str(name), computed, method, state_dim, params.get("stats_index_map"))
    except ValueError as exc:
        raise AgentError(errors.STATS_FAILED, str(exc), "fix preflight.stats_index_map") from None
    status, problems = check_entry(entry, state_dim)
    result: Dict[str, Any] = {
        "path": path,
        "method": method,
        "entry": entry,
        "status": status,
        "problems": problems,
        "changes": entry_changes(doc.get(str(name)), entry),
        "computed": {k: computed[k] for k in ("files", "episodes", "rows", "dims")},
        "written": False,
        "backup": None,
    }
    if write:
        if status == "fail":
            raise AgentError(
                errors.STATS_FAILED,
                "the computed statistics fail their own checks: " + "; ".join(problems),
                "nothing was written; check the dataset keys and the index map",
            )
        if old_bytes is not None:
            backup = "{}.bak-{}".format(path, time.strftime("%Y%m%d-%H%M%S"))
            write_atomic(backup, old_bytes, mode=0o644)
            result["backup"] = backup
        doc[str(name)] = entry
        os.makedirs(os.path.dirname(path), exist_ok=True)
        mode = stat.S_IMODE(os.stat(path).st_mode) if old_bytes is not None else 0o644
        write_atomic(path, (json.dumps(doc, indent=4) + "\n").encode(), mode=mode)
        result["written"] = True
    return result


def apply_fix(action: str, path: str) -> Dict[str, Any]:
    try:
        if action == "chmod_x":
            st = os.stat(path)
            if not stat.S_ISREG(st.st_mode):
                raise AgentError(errors.FIX_FAILED, f"{path} is not a regular file", "")
            # x wherever r is set, as `chmod +x` does under the usual umask
            os.chmod(path, st.st_mode | ((st.st_mode & 0o444) >> 2))
            return {"done": f"chmod +x {path}"}
        if action == "mkdir":
            os.makedirs(path, exist_ok=True)
            return {"done": f"mkdir -p {path}"}
    except OSError as exc:
        raise AgentError(errors.FIX_FAILED, f"{action} {path}: {exc}", "") from None
    raise AgentError(errors.BAD_REQUEST, f"unknown fix {action!r}", "")


class PreflightOps:
    """The ops; ``self`` is the AgentService (GPU samples, run store)."""

    gpu_samples: Any
    store: Any
    root: str
    _manifests: Dict[str, Tuple[int, int]]

    async def op_preflight(self, args: Dict[str, Any]) -> Dict[str, Any]:
        params = dict(args.get("params") or {})
        cwd = args.get("cwd")
        env = {str(k): str(v) for k, v in (args.get("env") or {}).items()}
        sample = self.gpu_samples[-1][1] if self.gpu_samples else {}
        loop = asyncio.get_event_loop()
        live = await loop.run_in_executor(None, self.store.live_runs)
        found = await loop.run_in_executor(None, facts.gather, params, cwd, env, sample, live)
        found["state_dir"] = disk(self.root)  # where the run's output.log and metrics go
        return found

    async def op_manifest(self, args: Dict[str, Any]) -> Dict[str, Any]:
        directory = os.path.expanduser(str(args.get("path")))
        if not os.path.isdir(directory):
            raise AgentError(errors.BAD_REQUEST, f"{directory} is not a directory", "")
        key = str(args.get("key") or directory)
        self._manifests[key] = (0, 0)

        def progress(done: int, total: int) -> None:
            self._manifests[key] = (done, total)

        try:
            return await asyncio.get_event_loop().run_in_executor(
                None,
                lambda: manifest.manifest(directory, str(args.get("glob") or "*"), None, progress),
            )
        finally:
            self._manifests.pop(key, None)

    async def op_manifest_progress(self, args: Dict[str, Any]) -> Dict[str, Any]:
        done, total = self._manifests.get(str(args.get("key")), (0, 0))
        return {"done": done, "total": total}

    async def op_stats(self, args: Dict[str, Any]) -> Dict[str, Any]:
        params = dict(args.get("params") or {})
        return await asyncio.get_event_loop().run_in_executor(
            None,
            compute_stats,
            params,
            args.get("cwd"),
            str(args.get("method") or "rdt"),
            bool(args.get("write")),
        )

    async def op_fix(self, args: Dict[str, Any]) -> Dict[str, Any]:
        return apply_fix(str(args.get("action")), os.path.expanduser(str(args.get("path"))))


__all__: List[str] = ["PreflightOps"]
