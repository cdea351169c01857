"""The preflight rules: node facts (gathered by the agent, ``agent/facts.py``) in, a checklist
out. Each check has an id, a title, a status (pass, warn, fail, skip), a detail, a hint, and
where one exists a fix: an agent op with its arguments, which the console or
``rdt-tui preflight --fix ID`` sends as is.
"""

import os
from typing import Any, Dict, List, Optional

from .stats import check_entry, parse_stats
from .units import human_size

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
DEFAULT_PACKAGES = ["torch", "accelerate", "transformers", "h5py", "safetensors"]
# Download sizes of encoders our users name (their hub repos, all files), for the warning.
KNOWN_ENCODERS = {
    "google/t5-v1_1-xxl": 44.5e9,
    "google/siglip-so400m-patch14-384": 3.5e9,
}
MIN_WEIGHTS = 1 << 20
DISK_MARGIN = 0.10
WEIGHTS_TO_CHECKPOINT = 4.0  # weights + Adam moments + master copy, a rough floor


def check(
    cid: str, title: str, status: str, detail: str, hint: str = "", fix: Optional[Dict] = None
) -> Dict[str, Any]:
    out: Dict[str, Any] = {"id": cid, "title": title, "status": status, "detail": detail}
    out["hint"] = hint
    if fix:
        out["fix"] = fix
    return out


def evaluate(facts: Dict[str, Any], params: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The checklist, in the order a user walks it."""
    out: List[Dict[str, Any]] = []
    out.extend(_interpreter(facts.get("interpreter") or {}, params))
    if isinstance(params.get("slurm"), dict):  # GPUs come from Slurm, not the login node
        from .slurm_preflight import slurm_checks

        out.extend(slurm_checks(facts.get("slurm") or {}, params["slurm"]))
    else:
        out.append(_gpus(facts.get("gpus") or {}, params))
    if "dataset" in facts:
        out.append(_dataset(facts["dataset"]))
    if "stats_file" in facts:
        out.append(_stats(facts["stats_file"], params))
    out.extend(_config(c) for c in facts.get("configs") or [])
    if "weights" in facts:
        out.append(_weights(facts["weights"]))
    out.extend(_encoder(e) for e in facts.get("encoders") or [])
    if "output" in facts:
        out.append(_output(facts["output"], facts.get("weights"), params))
    if "script" in facts:
        out.append(_script(facts["script"], params))
    if "hub" in facts:
        out.append(_hub(facts["hub"]))
    if params.get("wandb") is not False:  # `wandb = false`: a job that never uses W&B
        out.append(_wandb(facts.get("wandb") or {}))
    if "state_dir" in facts:
        out.append(_state_dir(facts["state_dir"]))
    out.extend(_hazards(facts, params))
    return out


STATE_DIR_FAIL = 256 << 20
STATE_DIR_WARN = 2 << 30


def _state_dir(f: Dict[str, Any]) -> Dict[str, Any]:
    """The agent's state directory holds each run's output.log and metrics: when its disk
    fills, the log stops (the job itself goes on)."""
    title, free = "Agent state disk", f.get("free")
    if free is None:
        return check("state_dir", title, WARN, f"cannot read the free space of {f.get('path')}")
    detail = f"{human_size(free)} free at {f.get('path')}"
    hint = (
        "free disk there, or point the host's state_dir (hosts.toml; XDG_STATE_HOME or "
        "RDT_TUI_STATE_DIR on the node) at a larger disk"
    )
    if free < STATE_DIR_FAIL:
        return check("state_dir", title, FAIL, detail + ": the run's log would be dropped", hint)
    if free < STATE_DIR_WARN:
        return check("state_dir", title, WARN, detail + ": a chatty log can fill it", hint)
    return check("state_dir", title, PASS, detail)


def _named_as(python: str, executable: Any, version: Any) -> str:
    """The interpreter as the profile names it and what it resolved to on the node."""
    if python and python != executable:
        return f"{python} -> {executable} (Python {version})"
    return f"{executable} (Python {version})"


def _interpreter(f: Dict[str, Any], params: Dict[str, Any]) -> List[Dict[str, Any]]:
    python = f.get("python") or params.get("python") or "python3"
    if not f.get("found"):
        return [
            check(
                "python",
                "Training interpreter",
                FAIL,
                "{}: {}".format(python, f.get("error")),
                "set preflight.python to the env's interpreter, e.g. "
                "/opt/conda/envs/rdt/bin/python",
            )
        ]
    if f.get("error"):
        return [check("python", "Training interpreter", FAIL, str(f["error"]), "run it by hand")]
    out = [
        check(
            "python",
            "Training interpreter",
            PASS,
            _named_as(python, f.get("executable"), f.get("version"))
            + (", {}".format(params["python_from"]) if params.get("python_from") else ""),
        )
    ]
    packages = f.get("packages") or {}
    missing = ["{} ({})".format(n, p.get("error")) for n, p in packages.items() if not p.get("ok")]
    found = ", ".join(
        "{} {}".format(n, p.get("version")) for n, p in packages.items() if p.get("ok")
    )
    if missing:
        out.append(
            check(
                "packages",
                "Packages import",
                FAIL,
                "missing: " + "; ".join(missing),
                "pip install them into " + str(f.get("executable")),
            )
        )
    else:
        out.append(check("packages", "Packages import", PASS, found or "none asked for"))
    cuda = f.get("cuda")
    if cuda is not None and not params.get("cpu"):
        devices = params.get("_nvml_devices")
        if not cuda.get("available"):
            out.append(
                check(
                    "cuda",
                    "torch sees CUDA",
                    FAIL,
                    "torch.cuda.is_available() is False",
                    "a CPU-only torch build, or no driver: check `nvidia-smi`",
                )
            )
        elif devices is not None and cuda.get("devices") != devices:
            out.append(
                check(
                    "cuda",
                    "torch sees CUDA",
                    WARN,
                    "torch sees {} devices, NVML {}".format(cuda.get("devices"), devices),
                    "CUDA_VISIBLE_DEVICES in the profile's env narrows what torch sees",
                )
            )
        else:
            out.append(
                check("cuda", "torch sees CUDA", PASS, "{} devices".format(cuda.get("devices")))
            )
    return out


def visible_devices(devices: List[Dict[str, Any]], visible: Optional[str]) -> List[Dict[str, Any]]:
    if visible is None:
        return devices
    wanted = [v.strip() for v in visible.split(",") if v.strip()]
    return [d for d in devices if str(d.get("index")) in wanted or d.get("uuid") in wanted]


def _gpus(f: Dict[str, Any], params: Dict[str, Any]) -> Dict[str, Any]:
    title = "GPUs"
    if params.get("cpu"):
        return check("gpus", title, SKIP, "the profile trains on the CPU (preflight.cpu)")
    devices = f.get("devices") or []
    if not devices:
        return check(
            "gpus",
            title,
            FAIL,
            "no GPU: {}".format(f.get("reason") or "none found"),
            "is the NVIDIA driver loaded (`nvidia-smi`)?",
        )
    visible = visible_devices(devices, f.get("visible"))
    need = int(params.get("processes") or 1)
    label = " SIMULATED" if f.get("simulated") else ""
    problems, warnings = [], []
    if len(visible) < need:
        problems.append(f"{need} processes but {len(visible)} GPUs visible")
    models = sorted({str(d.get("name")) for d in visible})
    if len(models) > 1:
        warnings.append("mixed models: " + ", ".join(models))
    off = [str(d["index"]) for d in visible if d.get("persistence") == 0]
    if off:
        warnings.append("persistence mode off on GPU " + ",".join(off) + " (`nvidia-smi -pm 1`)")
    uid_busy = [
        str(d["index"]) for d in visible if any(not p.get("run") for p in d.get("processes") or [])
    ]
    if uid_busy:
        warnings.append("other processes on GPU " + ",".join(uid_busy))
    ours = []
    for run in f.get("live_runs") or []:
        shared = set(map(str, run.get("gpus") or [d["index"] for d in devices])) & {
            str(d["index"]) for d in visible
        }
        if shared:
            ours.append("{} on GPU {}".format(run["id"], ",".join(sorted(shared))))
    if ours:
        problems.append("live run " + "; ".join(ours))
    free = [
        (d["mem_total"] - d["mem_used"])
        for d in visible
        if d.get("mem_total") is not None and d.get("mem_used") is not None
    ]
    detail = "{} visible{} ({}), least free memory {}".format(
        len(visible), label, ", ".join(models), human_size(min(free)) if free else "unknown"
    )
    if problems:
        return check(
            "gpus",
            title,
            FAIL,
            detail + "; " + "; ".join(problems + warnings),
            "free the GPUs, or set gpus / CUDA_VISIBLE_DEVICES in the profile",
        )
    if warnings:
        return check(
            "gpus",
            title,
            WARN,
            detail + "; " + "; ".join(warnings),
            "someone else's job shares the GPUs: expect less memory and speed",
        )
    return check("gpus", title, PASS, detail)


def _dataset(f: Dict[str, Any]) -> Dict[str, Any]:
    if not f.get("is_dir"):
        return check(
            "dataset",
            "Dataset",
            FAIL,
            "{} is not a directory".format(f.get("path")),
            "push it: rdt-tui push HOST LOCAL_DIR " + str(f.get("path")),
        )
    if not f.get("count"):
        return check(
            "dataset",
            "Dataset",
            FAIL,
            "no file matches {} in {}".format(f.get("glob"), f.get("path")),
            "check preflight.dataset_glob",
        )
    return check(
        "dataset",
        "Dataset",
        PASS,
        "{} files, {} in {}".format(f["count"], human_size(f.get("bytes")), f.get("path")),
    )


def dataset_identity(diff: Dict[str, List[str]]) -> Dict[str, Any]:
    """The dataset-identity check from a manifest diff (``core.manifest_diff``)."""
    bad = {k: v for k, v in diff.items() if k != "same" and v}
    if not bad:
        return check(
            "dataset_identity",
            "Dataset same as local",
            PASS,
            "{} files identical by MD5".format(len(diff.get("same") or [])),
        )
    parts = [f"{len(v)} {k} (e.g. {v[0]})" for k, v in bad.items()]
    return check(
        "dataset_identity",
        "Dataset same as local",
        FAIL,
        "; ".join(parts),
        "push the local copy again: rdt-tui push HOST LOCAL_DIR REMOTE_DIR",
    )


def stats_fix() -> Dict[str, Any]:
    return {
        "label": "compute the statistics from the dataset and write them",
        "op": "stats",
        "args": {"write": True},
    }


def _stats(f: Dict[str, Any], params: Dict[str, Any]) -> Dict[str, Any]:
    title = "Dataset statistics"
    name = params.get("dataset_name")
    source = params.get("stats_command") or (params.get("dataset_dir") and params.get("stats_keys"))
    can_fix = bool(source and name)
    fix = stats_fix() if can_fix else None
    if not f.get("exists"):
        return check(
            "stats",
            title,
            FAIL,
            "{} does not exist".format(f.get("path")),
            "compute them (the fix) or copy the project's file",
            fix,
        )
    if "error" in f:
        return check("stats", title, FAIL, "{}: {}".format(f.get("path"), f["error"]), "")
    doc, why = parse_stats(f.get("text", ""))
    if doc is None:
        return check(
            "stats",
            title,
            FAIL,
            "{} is {}".format(f.get("path"), why),
            "restore it from a backup or git; the fix will not overwrite a file it cannot read",
        )
    if not name:
        return check(
            "stats",
            title,
            WARN,
            f"{len(doc)} entries; no preflight.dataset_name to check",
            "set preflight.dataset_name",
        )
    if name not in doc:
        return check(
            "stats",
            title,
            FAIL,
            "no entry {!r} in {} (training stops with KeyError at the first sample)".format(
                name, f.get("path")
            ),
            "compute it (the fix)",
            fix,
        )
    status, problems = check_entry(doc[name], int(params.get("state_dim") or 128))
    if status == PASS:
        return check(
            "stats",
            title,
            PASS,
            "entry {!r} sane ({} dims)".format(name, params.get("state_dim") or 128),
        )
    hint = "recompute them (the fix)" if status == FAIL else "check the units of those dims"
    if status == FAIL and not f.get("writable", True):
        hint = "the file is read-only: fix its permissions first"
        fix = None
    return check("stats", title, status, "{!r}: {}".format(name, "; ".join(problems)), hint, fix)


def _config(f: Dict[str, Any]) -> Dict[str, Any]:
    path = str(f.get("path"))
    title = "Config " + os.path.basename(path)
    if not f.get("exists"):
        return check("config", title, FAIL, path + " does not exist", "check preflight.configs")
    if "error" in f:
        return check("config", title, FAIL, "{}: {}".format(path, f["error"]))
    parsed = f.get("parsed")
    if parsed is None:
        return check("config", title, SKIP, "no parser for this format on the node")
    if not parsed.get("ok"):
        return check(
            "config", title, FAIL, "{} does not parse: {}".format(path, parsed.get("error"))
        )
    return check("config", title, PASS, path)


def _weights(f: Dict[str, Any]) -> Dict[str, Any]:
    title = "Pretrained weights"
    path = str(f.get("path"))
    if not f.get("exists"):
        return check(
            "weights",
            title,
            FAIL,
            path + " does not exist",
            "download them, or push them: rdt-tui push HOST LOCAL " + path,
        )
    if not f.get("is_dir"):
        size = int(f.get("bytes") or 0)
        ok = path.endswith((".pt", ".pth", ".bin", ".safetensors")) and size >= MIN_WEIGHTS
        return check(
            "weights",
            title,
            PASS if ok else FAIL,
            f"{path} ({human_size(size)})",
            "" if ok else "a weights file should be a .pt/.safetensors of some size",
        )
    files = f.get("files") or {}
    if "model.safetensors" in files:
        taken, size = "model.safetensors", files["model.safetensors"]
    elif f.get("shards"):
        taken, size = "{} safetensors shards".format(f["shards"]), f.get("shard_bytes") or 0
    elif "pytorch_model.bin" in files:
        taken, size = "pytorch_model.bin", files["pytorch_model.bin"]
    else:
        return check(
            "weights",
            title,
            FAIL,
            f"{path} holds neither model.safetensors nor pytorch_model.bin",
            "point preflight.weights at the directory with the weights",
        )
    if size < MIN_WEIGHTS:
        return check(
            "weights",
            title,
            FAIL,
            f"{taken} is only {human_size(size)}",
            "a truncated download? fetch it again",
        )
    return check("weights", title, PASS, f"the loader takes {taken} ({human_size(size)})")


def _encoder(f: Dict[str, Any]) -> Dict[str, Any]:
    name = str(f.get("name"))
    title = "Encoder " + name
    if f.get("local_exists"):
        return check("encoder", title, PASS, "at " + str(f.get("local")))
    if f.get("cache_exists"):
        return check("encoder", title, PASS, "in the hub cache " + str(f.get("cache")))
    size = KNOWN_ENCODERS.get(name)
    return check(
        "encoder",
        title,
        WARN,
        "not at {} nor in the hub cache: it will be downloaded ({})".format(
            f.get("local"), human_size(size) if size else "size unknown"
        ),
        "download it before the run, or push it to " + str(f.get("local")),
    )


def _output(f: Dict[str, Any], weights: Optional[Dict[str, Any]], params: Dict[str, Any]):
    title = "Output and disk"
    path = str(f.get("path"))
    if not f.get("writable"):
        return check(
            "output",
            title,
            FAIL,
            "{} is not writable (nearest existing: {})".format(path, f.get("creatable_from")),
            "pick another output_dir or fix its permissions",
        )
    keep = int(params.get("keep_checkpoints") or 1)
    sizes = [c["size"] for c in f.get("checkpoints") or [] if c.get("size")]
    if sizes:
        each, how = max(sizes), f"measured from {len(sizes)} checkpoints"
    elif weights and (weights.get("bytes") or weights.get("files")):
        base = weights.get("bytes") or max((weights.get("files") or {}).values())
        each, how = (
            base * WEIGHTS_TO_CHECKPOINT,
            f"estimated as {WEIGHTS_TO_CHECKPOINT}x the weights",
        )
    else:
        each, how = 0, "no checkpoint or weights to size one from"
    need = each * keep * (1 + DISK_MARGIN)
    free = (f.get("disk") or {}).get("free")
    detail = f"{human_size(free)} free; {keep} x {human_size(each)} per checkpoint ({how})"
    fix = None
    if not f.get("exists"):
        fix = {"label": "create " + path, "op": "fix", "args": {"action": "mkdir", "path": path}}
    if free is not None and need and free < need:
        return check(
            "output",
            title,
            FAIL,
            detail + f"; needs {human_size(need)}",
            "free disk, lower keep_checkpoints, or write elsewhere",
            fix,
        )
    if params.get("ignores_total_limit"):
        return check(
            "output",
            title,
            WARN,
            detail,
            "this trainer ignores its checkpoint limit: old checkpoints pile up "
            "(the agent's checkpoint table shows them)",
            fix,
        )
    if fix:
        return check("output", title, WARN, detail + f"; {path} will be created", "", fix)
    owners = f.get("owners") or []
    if owners:
        return check(
            "output",
            title,
            WARN,
            f"{path} holds {len(f.get('checkpoints') or [])} checkpoints of run {owners[-1]}"
            + (f" (and {len(owners) - 1} earlier runs)" if len(owners) > 1 else ""),
            "this run would prune them and list them as its own: give it a folder of its own "
            "({run_id} in checkpoint_dir) or move them, unless it resumes from them",
        )
    return check("output", title, PASS, detail)


def _script(f: Dict[str, Any], params: Dict[str, Any]) -> Dict[str, Any]:
    path = str(f.get("path"))
    if not f.get("exists"):
        return check(
            "script",
            "Entry script",
            FAIL,
            path + " does not exist",
            "check the profile's cwd and preflight.script",
        )
    argv0 = os.path.basename(str((params.get("argv") or [""])[0]))
    direct = argv0 == os.path.basename(path)
    if direct and not f.get("executable"):
        return check(
            "script",
            "Entry script",
            FAIL,
            path + " is launched directly but is not executable",
            "chmod +x (the fix)",
            {"label": "chmod +x " + path, "op": "fix", "args": {"action": "chmod_x", "path": path}},
        )
    return check("script", "Entry script", PASS, path)


def _hub(f: Dict[str, Any]) -> Dict[str, Any]:
    if f.get("reachable"):
        return check(
            "hub",
            "Hub reachable",
            PASS,
            "{} answered in {} s".format(f.get("endpoint"), f.get("seconds")),
        )
    status = PASS if f.get("offline") else WARN
    return check(
        "hub",
        "Hub reachable",
        status,
        "{}: {}".format(f.get("endpoint"), f.get("error")),
        "set HF_ENDPOINT to a mirror, or HF_HUB_OFFLINE=1 with everything cached",
    )


def _wandb(f: Dict[str, Any]) -> Dict[str, Any]:
    mode = f.get("mode") or ""
    if mode in ("offline", "disabled", "dryrun") or f.get("disabled"):
        return check("wandb", "W&B", PASS, "WANDB_MODE={}".format(mode or "disabled"))
    if f.get("api_key") or f.get("netrc"):
        return check("wandb", "W&B", PASS, "logged in")
    return check(
        "wandb",
        "W&B",
        WARN,
        "online mode without a login: the run may stop at wandb.init",
        "set WANDB_MODE=offline in the profile's env, or `wandb login` on the node",
    )


def _hazards(facts: Dict[str, Any], params: Dict[str, Any]) -> List[Dict[str, Any]]:
    out = []
    port = facts.get("master_port") or {}
    if port:
        out.append(
            check(
                "master_port",
                "Master port free",
                PASS if port.get("free") else WARN,
                "port {} {}".format(
                    port.get("port"),
                    "free" if port.get("free") else "in use: " + str(port.get("error")),
                ),
                "" if port.get("free") else "set --main_process_port / MASTER_PORT",
            )
        )
    argv = [str(a) for a in params.get("argv") or []]
    procs = int(params.get("processes") or 1)
    if "--cpu" in argv and procs > 1:
        out.append(
            check(
                "launcher",
                "Launcher matches the hardware",
                FAIL,
                f"`--cpu` with {procs} processes runs ONE process",
                "on CPU use ACCELERATE_USE_CPU=1 with --multi_gpu --num_processes N",
            )
        )
    else:
        out.append(check("launcher", "Launcher matches the hardware", PASS, "no known hazard"))
    return out


def summary(checks: List[Dict[str, Any]]) -> Dict[str, int]:
    counts = {PASS: 0, WARN: 0, FAIL: 0, SKIP: 0}
    for c in checks:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    return counts
