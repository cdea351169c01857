"""The agent's preflight operations: gather facts, hash a dataset, compute and write dataset
statistics, apply a simple fix. Mixed into ``AgentService``; each heavy step runs in a worker
thread (or a child process) so the daemon keeps serving runs meanwhile."""

import asyncio
import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

from ..core.stats import check_entry, encodable, entry_changes, make_entry, parse_stats
from ..protocol import errors
from ..protocol.errors import AgentError
from . import facts, manifest, statsfile

# Where this code lives (the zipapp, or the source tree): the statistics job runs from it
# under the training interpreter.
CODE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATS_TIMEOUT_S = 3600.0  # default bound of a statistics computation (and of its lock wait)
STATS_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); from rdt_tui.agent.statsjob import main; main()"
)


def _path(cwd: Optional[str], path: str) -> str:
    path = os.path.expanduser(path)
    if cwd and not os.path.isabs(path):
        path = os.path.join(os.path.expanduser(cwd), path)
    return os.path.normpath(path)


def _run_bounded(
    argv: List[str], stdin: Optional[bytes], cwd: Optional[str], env: Dict[str, str], timeout: float
) -> Tuple[int, bytes, bytes]:
    """Run ``argv`` in its own session; past ``timeout`` seconds the whole group is killed and
    a clear error says so (no wait of the agent is unbounded)."""
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(os.environ, **env),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise AgentError(
            errors.STATS_FAILED,
            f"cannot run {argv[0]}: {exc.strerror or exc}",
            "check preflight.python (and preflight.stats_command)",
        ) from None
    try:
        out, err = proc.communicate(stdin, timeout=max(1.0, timeout))
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        raise AgentError(
            errors.STATS_FAILED,
            f"the statistics were not done within {timeout:.0f} s; stopped, nothing was written",
            "give them more time: rdt-tui stats HOST --profile P --timeout SECONDS",
        ) from None
    return proc.returncode, out, err


def _tail(data: bytes, lines: int = 3) -> str:
    return " | ".join(data.decode("utf-8", "replace").strip().splitlines()[-lines:])


def run_stats_job(
    python: str,
    request: Dict[str, Any],
    timeout: float = STATS_TIMEOUT_S,
    env: Optional[Dict[str, str]] = None,
) -> Dict[str, Any]:
    """The built-in computation (statsjob.py) under the training interpreter."""
    boot = [python, "-c", STATS_BOOT, CODE_ROOT]
    code, out, err = _run_bounded(boot, json.dumps(request).encode(), None, env or {}, timeout)
    lines = out.decode("utf-8", "replace").strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (ValueError, IndexError):
        why, hint = _tail(err), ""
        if code < 0:  # a signal says nothing on stderr (SIGBUS: a mapped file cut short)
            why = f"killed by signal {-code} {why}".strip()
            hint = "run it again; if a dataset file was being rewritten, wait for that first"
        raise AgentError(errors.STATS_FAILED, "the statistics job failed: " + why, hint) from None
    if "error" in result:
        raise AgentError(errors.STATS_FAILED, str(result["error"]), "fix the dataset or the keys")
    return dict(result)


def run_stats_script(
    params: Dict[str, Any], cwd: str, env: Dict[str, str], name: str, timeout: float
) -> Tuple[Any, Dict[str, Any]]:
    """The project's own statistics script (``stats_command``), run in the run's cwd with the
    training interpreter as ``{python}``, writing into a fresh temporary ``{output}``: the
    entry it wrote for ``name`` (as parsed, NaN included, for the checks to judge)."""
    python = os.path.expanduser(str(params.get("python") or "python3"))
    tmp = tempfile.mkdtemp(prefix="rdt-tui-stats-")
    try:
        output = os.path.join(tmp, os.path.basename(str(params["stats_file"])))
        argv = [
            str(c).replace("{output}", output).replace("{python}", python)
            for c in params["stats_command"]
        ]
        started = time.monotonic()
        code, out, err = _run_bounded(argv, None, cwd, env, timeout)
        shown = " ".join(shlex.quote(a) for a in argv).replace(output, "{output}")
        if code != 0:
            raise AgentError(
                errors.STATS_FAILED,
                f"the statistics script failed (exit {code}): {_tail(err or out)}; "
                "nothing was written",
                f"run it by hand in {cwd}: {shown}",
            )
        text = statsfile.read_bytes(output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if text is None:
        raise AgentError(
            errors.STATS_FAILED,
            f"the statistics script wrote nothing to {{output}} ({shown})",
            "stats_command must pass {output} as the file the script writes",
        )
    doc, why = parse_stats(text.decode("utf-8", "replace"))
    if doc is None or not isinstance(doc.get(name), dict):
        wrote = why or "entries " + (", ".join(sorted(doc or {})) or "none")
        raise AgentError(
            errors.STATS_FAILED,
            f"the statistics script wrote no entry {name!r} ({wrote}); nothing was written",
            "preflight.dataset_name must be the name the script files its statistics under",
        )
    return doc[name], {"script": shown, "seconds": round(time.monotonic() - started, 1)}


def compute_stats(
    params: Dict[str, Any],
    cwd: Optional[str],
    method: str,
    write: bool,
    env: Optional[Dict[str, str]] = None,
    timeout: float = STATS_TIMEOUT_S,
) -> Dict[str, Any]:
    """The new entry, what it changes, and (when ``write``) the rewritten file and its backup.

    ``method``: ``script`` runs the profile's ``stats_command``, ``rdt`` / ``plain`` the
    built-in computation, ``auto`` the script when the profile has one. The file is read and
    parsed first: one that does not parse, or cannot be written, is refused before any work
    and never touched; a write holds the file's lock from that read to the replace
    (statsfile.py)."""
    deadline = time.monotonic() + timeout
    if method == "auto":
        method = "script" if params.get("stats_command") else "rdt"
    if method not in ("rdt", "plain", "script"):
        raise AgentError(
            errors.BAD_REQUEST, f"unknown method {method!r}", "use auto, script, rdt or plain"
        )
    name = params.get("dataset_name")
    if method == "script":
        needed = bool(params.get("stats_file") and name and params.get("stats_command"))
        what = "stats_file, dataset_name and stats_command"
    else:
        needed = all(params.get(k) for k in ("stats_file", "dataset_dir", "stats_keys"))
        needed = needed and bool(name)
        what = "stats_file, dataset_dir, dataset_name and stats_keys"
    if not needed:
        raise AgentError(
            errors.BAD_REQUEST,
            f"computing statistics ({method}) needs preflight.{what}",
            "add them to the profile (docs/profiles.md)",
        )
    path = _path(cwd, params["stats_file"])
    job = (params, cwd, method, write, dict(env or {}), deadline, str(name), path)
    if not write:
        return _compute(*job)
    parent = _existing_parent(path)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError as exc:
        raise AgentError(
            errors.STATS_UNWRITABLE,
            f"cannot create {os.path.dirname(path)} (in {parent}): {exc.strerror}",
            "fix its permissions, or point preflight.stats_file elsewhere",
        ) from None
    with statsfile.locked(path, deadline):
        return _compute(*job)


def _existing_parent(path: str) -> str:
    parent = os.path.dirname(path)
    while not os.path.exists(parent) and parent != os.path.dirname(parent):
        parent = os.path.dirname(parent)  # a new file: its nearest existing directory
    return parent


def _compute(
    params: Dict[str, Any],
    cwd: Optional[str],
    method: str,
    write: bool,
    env: Dict[str, str],
    deadline: float,
    name: str,
    path: str,
) -> Dict[str, Any]:
    doc: Dict[str, Any] = {}
    old_bytes = statsfile.read_bytes(path)
    if old_bytes is not None:
        parsed, why = parse_stats(old_bytes.decode("utf-8", "replace"))
        if parsed is None:
            raise AgentError(
                errors.STATS_UNWRITABLE,
                f"{path} is {why}; it was left unchanged",
                "restore it (git, a .bak- copy) before computing new statistics into it",
            )
        doc = parsed
    if write and not os.access(path if old_bytes is not None else _existing_parent(path), os.W_OK):
        raise AgentError(
            errors.STATS_UNWRITABLE,
            f"{path} is not writable; it was left unchanged",
            "fix its permissions, or point preflight.stats_file elsewhere",
        )
    state_dim = int(params.get("state_dim") or 128)
    left = deadline - time.monotonic()
    if method == "script":
        workdir = os.path.expanduser(str(cwd or "~"))
        if not os.path.isdir(workdir):
            raise AgentError(
                errors.BAD_CWD,
                f"working directory {workdir} does not exist; the statistics script runs there",
                "check the profile's cwd",
            )
        entry, computed = run_stats_script(params, workdir, env, name, left)
    else:
        computed = run_stats_job(
            os.path.expanduser(str(params.get("python") or "python3")),
            {
                "directory": _path(cwd, params["dataset_dir"]),
                "pattern": params.get("dataset_glob") or "*.hdf5",
                "keys": params["stats_keys"],
                "scale": params.get("stats_scale") or None,
            },
            left,
            env,
        )
        try:
            entry = make_entry(name, computed, method, state_dim, params.get("stats_index_map"))
        except ValueError as exc:
            raise AgentError(
                errors.STATS_FAILED, str(exc), "fix preflight.stats_index_map"
            ) from None
        computed = {k: computed[k] for k in ("files", "episodes", "rows", "dims")}
    status, problems = check_entry(entry, state_dim)
    result: Dict[str, Any] = {
        "path": path,
        "method": method,
        "entry": encodable(entry),
        "status": status,
        "problems": problems,
        "changes": entry_changes(doc.get(name), entry),
        "computed": computed,
        "written": False,
        "backup": None,
    }
    if write:
        if status == "fail":
            raise AgentError(
                errors.STATS_FAILED,
                "the computed statistics fail their own checks: " + "; ".join(problems),
                "nothing was written; check the dataset, the keys, the index map "
                "(or the project's script)",
            )
        doc[name] = entry
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = 0o644  # new (or removed meanwhile: then the commit refuses)
        data = (json.dumps(doc, indent=4) + "\n").encode()
        result["backup"] = statsfile.commit(path, old_bytes, data, mode)
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
        found = await loop.run_in_executor(
            None, facts.gather, params, cwd, env, sample, live, self.root
        )
        out = found.get("output")
        if out and out.get("checkpoints"):
            out["owners"] = await loop.run_in_executor(None, self._owners_of, str(out["path"]))
        if isinstance(params.get("slurm"), dict):
            from . import slurm_facts

            where = os.path.expanduser(str(cwd or "~"))
            found["slurm"] = await loop.run_in_executor(
                None, slurm_facts.gather, params["slurm"], where
            )
        return found

    def _owners_of(self, path: str) -> List[str]:
        """The runs (oldest first) whose checkpoint directory is ``path``: a new run writing
        there would prune their checkpoints and list them as its own."""
        here = os.path.realpath(path)
        owners = []
        for run_id in self.store.run_ids():
            try:
                directory = self.store.spec(run_id).get("checkpoint_dir")
            except Exception:  # a damaged spec: not this check's business
                continue
            if directory and os.path.realpath(os.path.expanduser(str(directory))) == here:
                owners.append((self.store.summary(run_id).get("started_at") or 0, run_id))
        return [run_id for _, run_id in sorted(owners)]

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
        env = {str(k): str(v) for k, v in (args.get("env") or {}).items()}
        timeout = min(max(float(args.get("timeout") or STATS_TIMEOUT_S), 1.0), 7 * 86400.0)
        return await asyncio.get_event_loop().run_in_executor(
            None,
            compute_stats,
            params,
            args.get("cwd"),
            str(args.get("method") or "auto"),
            bool(args.get("write")),
            env,
            timeout,
        )

    async def op_fix(self, args: Dict[str, Any]) -> Dict[str, Any]:
        return apply_fix(str(args.get("action")), os.path.expanduser(str(args.get("path"))))


__all__: List[str] = ["PreflightOps"]
