"""Facts about a node for the preflight checklist: what is there, never a judgement.

The agent gathers them (paths, sizes, modes, versions, free disk, ports); the rules that turn
facts into pass/warn/fail live in ``core.preflight`` and run on the console. Every fact is
gathered on its own, so one unreadable path is a fact ("error": ...) and never stops the rest.
Probes that need the training interpreter (package versions, torch's view of CUDA, YAML)
run it as a subprocess with a timeout: the agent itself stays stdlib-only.
"""

import glob
import importlib
import json
import os
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

from ..core.checkpoints import DEFAULT_GLOBS
from .files import safe_glob, state_dir
from .hoststats import disk

PROBE_TIMEOUT_S = 60.0
HUB_TIMEOUT_S = 5.0
DEFAULT_HUB = "https://huggingface.co"

# Runs in the training interpreter: versions of the packages, torch's CUDA view, and YAML
# parsing (the agent has no yaml module of its own). Reads its request as JSON on stdin.
PROBE = r"""
import importlib, json, sys
req = json.load(sys.stdin)
out = {"executable": sys.executable, "version": sys.version.split()[0], "packages": {}}
for name in req["packages"]:
    try:
        mod = importlib.import_module(name)
        out["packages"][name] = {"ok": True, "version": str(getattr(mod, "__version__", "?"))}
    except Exception as exc:
        out["packages"][name] = {"ok": False, "error": type(exc).__name__ + ": " + str(exc)}
if out["packages"].get("torch", {}).get("ok"):
    import torch
    out["cuda"] = {"available": bool(torch.cuda.is_available()),
                   "devices": int(torch.cuda.device_count())}
out["yaml"] = {}
for path in req["yaml"]:
    try:
        import yaml
        with open(path) as fh:
            yaml.safe_load(fh)
        out["yaml"][path] = {"ok": True}
    except Exception as exc:
        out["yaml"][path] = {"ok": False, "error": type(exc).__name__ + ": " + str(exc)}
print(json.dumps(out))
"""


def _resolve(cwd: Optional[str], path: str) -> str:
    path = os.path.expanduser(path)
    if cwd and not os.path.isabs(path):
        path = os.path.join(os.path.expanduser(cwd), path)
    return os.path.normpath(path)


def interpreter(python: str, packages: List[str], yaml_files: List[str]) -> Dict[str, Any]:
    try:
        done = subprocess.run(
            [python, "-c", PROBE],
            input=json.dumps({"packages": packages, "yaml": yaml_files}).encode(),
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except FileNotFoundError:
        return {"python": python, "found": False, "error": "no such interpreter"}
    except PermissionError as exc:
        return {"python": python, "found": False, "error": str(exc)}
    except subprocess.TimeoutExpired:
        return {"python": python, "found": True, "error": "the probe took over a minute"}
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        return {"python": python, "found": True, "error": " | ".join(tail) or "probe failed"}
    try:
        report = json.loads(done.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"python": python, "found": True, "error": "the probe printed no report"}
    report.update(python=python, found=True)
    return dict(report)


def dataset(directory: str, pattern: str) -> Dict[str, Any]:
    if not os.path.isdir(directory):
        return {"path": directory, "exists": os.path.exists(directory), "is_dir": False}
    files = sorted(safe_glob(directory, "**/" + pattern))
    files = [f for f in files if os.path.isfile(f)]
    total = 0
    for f in files:
        try:
            total += os.path.getsize(f)
        except OSError:
            pass
    return {
        "path": directory,
        "exists": True,
        "is_dir": True,
        "glob": pattern,
        "count": len(files),
        "bytes": total,
    }


def text_file(path: str, limit: int = 64 << 20) -> Dict[str, Any]:
    """A file's text (for the statistics and config checks), or why it cannot be read."""
    out: Dict[str, Any] = {"path": path, "exists": os.path.exists(path)}
    if not out["exists"]:
        return out
    out["writable"] = os.access(path, os.W_OK) and os.access(os.path.dirname(path) or ".", os.W_OK)
    try:
        size = os.path.getsize(path)
        if size > limit:
            out["error"] = f"larger than {limit >> 20} MiB"
            return out
        with open(path, "rb") as fh:
            out["text"] = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        out["error"] = str(exc)
    return out


def config(path: str, yaml_results: Dict[str, Any]) -> Dict[str, Any]:
    """Whether a config file parses: JSON here, TOML with the agent's Python when it has
    tomllib (3.11+), YAML with the training interpreter's yaml (``yaml_results``)."""
    out = text_file(path)
    out.pop("writable", None)
    text = out.pop("text", None)
    if text is None:
        return out
    parsed: Optional[Dict[str, Any]] = None
    if path.endswith(".json"):
        try:
            json.loads(text)
            parsed = {"ok": True}
        except ValueError as exc:
            parsed = {"ok": False, "error": str(exc)}
    elif path.endswith(".toml"):
        try:  # 3.11+ has it; an older node Python reports "no parser" for TOML
            tomllib: Any = importlib.import_module("tomllib")
        except ImportError:
            tomllib = None
        if tomllib is not None:
            try:
                tomllib.loads(text)
                parsed = {"ok": True}
            except ValueError as exc:
                parsed = {"ok": False, "error": str(exc)}
    elif path.endswith((".yaml", ".yml")):
        parsed = yaml_results.get(path)
    out["parsed"] = parsed
    return out


def weights(path: str) -> Dict[str, Any]:
    out: Dict[str, Any] = {"path": path, "exists": os.path.exists(path)}
    if os.path.isdir(path):
        found = {}
        for name in ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json"):
            full = os.path.join(path, name)
            if os.path.isfile(full):
                found[name] = os.path.getsize(full)
        shards = glob.glob(os.path.join(glob.escape(path), "model-*.safetensors"))
        out.update(is_dir=True, files=found, shards=len(shards))
        out["shard_bytes"] = sum(os.path.getsize(s) for s in shards)
    elif os.path.isfile(path):
        out.update(is_dir=False, bytes=os.path.getsize(path))
    return out


def hub_cache_dir(env: Dict[str, str]) -> str:
    if env.get("HF_HUB_CACHE"):
        return os.path.expanduser(env["HF_HUB_CACHE"])
    home = env.get("HF_HOME") or os.path.join(
        env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return os.path.join(os.path.expanduser(home), "hub")


def encoder(name: str, cwd: Optional[str], env: Dict[str, str]) -> Dict[str, Any]:
    local = _resolve(cwd, name)
    cached = os.path.join(hub_cache_dir(env), "models--" + name.replace("/", "--"))
    return {
        "name": name,
        "local": local,
        "local_exists": os.path.isdir(local),
        "cache": cached,
        "cache_exists": os.path.isdir(os.path.join(cached, "snapshots")),
    }


RUN_ID = "{run_id}"


def each_run(path: str, checkpoint_globs: List[str]) -> Tuple[str, List[str]]:
    """An output folder of each run's own (``{run_id}`` in it: the demo's
    ``checkpoints/{run_id}``) as the folder above the runs' and the globs that reach every
    earlier run's checkpoints from there, so their sizes measure the next run's. That folder
    is also the one that must exist or be made, and be writable: the run makes its own."""
    parts = path.split("/")
    at = next((i for i, part in enumerate(parts) if RUN_ID in part), None)
    if at is None:
        return path, checkpoint_globs
    below = "/".join(part.replace(RUN_ID, "*") for part in parts[at:])
    globs = [below + "/" + g for g in checkpoint_globs or DEFAULT_GLOBS]
    return "/".join(parts[:at]) or "/", globs


def output(path: str, checkpoint_globs: List[str]) -> Dict[str, Any]:
    path, checkpoint_globs = each_run(path, checkpoint_globs)
    parent = path
    while not os.path.exists(parent) and parent != os.path.dirname(parent):
        parent = os.path.dirname(parent)
    out: Dict[str, Any] = {
        "path": path,
        "exists": os.path.isdir(path),
        "creatable_from": parent,
        "writable": os.access(path if os.path.isdir(path) else parent, os.W_OK | os.X_OK),
        "disk": disk(path),
        "checkpoints": [],
    }
    if os.path.isdir(path):
        from .ckptscan import scan

        out["checkpoints"] = [
            {"name": c["name"], "size": c["size"], "step": c["step"]}
            for c in scan(path, checkpoint_globs)
        ]
    return out


def script(path: str) -> Dict[str, Any]:
    try:
        st = os.stat(path)
    except OSError:
        return {"path": path, "exists": False}
    return {
        "path": path,
        "exists": True,
        "executable": bool(st.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)),
        "shebang": _first_line(path).startswith("#!"),
    }


def _first_line(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.readline(200).decode("utf-8", "replace")
    except OSError:
        return ""


def hub(env: Dict[str, str]) -> Dict[str, Any]:
    endpoint = (env.get("HF_ENDPOINT") or DEFAULT_HUB).rstrip("/")
    started = time.monotonic()
    try:
        req = urllib.request.Request(endpoint + "/api/models?limit=1", method="HEAD")
        with urllib.request.urlopen(req, timeout=HUB_TIMEOUT_S) as resp:
            code = resp.status
    except urllib.error.HTTPError as exc:
        code = exc.code  # it answered: reachable, even when it refuses a HEAD
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return {"endpoint": endpoint, "reachable": False, "error": str(reason)}
    return {
        "endpoint": endpoint,
        "reachable": True,
        "status": code,
        "seconds": round(time.monotonic() - started, 3),
        "offline": env.get("HF_HUB_OFFLINE") in ("1", "true", "True"),
    }


def wandb(env: Dict[str, str]) -> Dict[str, Any]:
    netrc = os.path.expanduser("~/.netrc")
    logged_in = False
    try:
        with open(netrc) as fh:
            logged_in = "api.wandb.ai" in fh.read()
    except OSError:
        pass
    return {
        "mode": env.get("WANDB_MODE", ""),
        "disabled": env.get("WANDB_DISABLED", "") in ("1", "true", "True"),
        "api_key": bool(env.get("WANDB_API_KEY")),
        "netrc": logged_in,
    }


def port_free(port: int) -> Dict[str, Any]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            return {"port": port, "free": False, "error": str(exc)}
    return {"port": port, "free": True}


def gather(
    params: Dict[str, Any],
    cwd: Optional[str],
    env: Dict[str, str],
    gpu_sample: Dict[str, Any],
    live_runs: List[Dict[str, Any]],
    root: Optional[str] = None,
) -> Dict[str, Any]:
    """Every fact the profile's preflight parameters ask for (see ``core.preflight``);
    ``root`` is the agent's state directory (default: the one the environment names)."""
    full_env = dict(os.environ, **env)
    facts: Dict[str, Any] = {"cwd": cwd, "cwd_exists": bool(cwd) and os.path.isdir(cwd or "")}
    configs = [_resolve(cwd, c) for c in params.get("configs") or []]
    yaml_files = [c for c in configs if c.endswith((".yaml", ".yml")) and os.path.isfile(c)]
    facts["interpreter"] = interpreter(
        os.path.expanduser(str(params.get("python") or "python3")),
        list(params.get("packages") or []),
        yaml_files,
    )
    facts["gpus"] = {
        "backend": gpu_sample.get("backend"),
        "simulated": gpu_sample.get("simulated"),
        "reason": gpu_sample.get("reason"),
        "devices": gpu_sample.get("gpus") or [],
        "visible": full_env.get("CUDA_VISIBLE_DEVICES"),
        "live_runs": [{"id": r["id"], "gpus": r.get("gpus")} for r in live_runs],
        "uid": os.getuid(),
    }
    if params.get("dataset_dir"):
        facts["dataset"] = dataset(
            _resolve(cwd, params["dataset_dir"]), str(params.get("dataset_glob") or "*.hdf5")
        )
    if params.get("stats_file"):
        facts["stats_file"] = text_file(_resolve(cwd, params["stats_file"]))
    facts["configs"] = [config(c, facts["interpreter"].get("yaml") or {}) for c in configs]
    if params.get("weights"):
        facts["weights"] = weights(_resolve(cwd, params["weights"]))
    facts["encoders"] = [encoder(str(e), cwd, full_env) for e in params.get("encoders") or []]
    if params.get("output_dir"):
        facts["output"] = output(
            _resolve(cwd, params["output_dir"]), list(params.get("checkpoint_globs") or [])
        )
    if params.get("script"):
        facts["script"] = script(_resolve(cwd, params["script"]))
    if params.get("hub", True):
        facts["hub"] = hub(full_env)
    facts["wandb"] = wandb(full_env)
    facts["master_port"] = port_free(int(params.get("master_port") or 29500))
    # Where output.log, metrics and exit records go: a full disk here loses the run's log.
    facts["state_dir"] = disk(root or state_dir())
    return facts
