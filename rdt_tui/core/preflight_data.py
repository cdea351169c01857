"""The preflight checks of what a run reads and writes: the dataset, its statistics, configs,
weights, encoders and the space its checkpoints need. Rules only (``core/preflight.py`` puts
them in the checklist's order)."""

import os
from typing import Any, Dict, List, Optional

from .checks import FAIL, PASS, SKIP, WARN, check
from .stats import check_entry, parse_stats
from .units import human_size

# Download sizes of encoders our users name (their hub repos, all files), for the warning.
KNOWN_ENCODERS = {
    "google/t5-v1_1-xxl": 44.5e9,
    "google/siglip-so400m-patch14-384": 3.5e9,
}
MIN_WEIGHTS = 1 << 20
DISK_MARGIN = 0.10
WEIGHTS_TO_CHECKPOINT = 4.0  # weights + Adam moments + master copy, a rough floor


def dataset_check(f: Dict[str, Any], hint: Optional[str] = None) -> Dict[str, Any]:
    """``hint``: the profile's own way to get the dataset (``preflight.dataset_hint``: the
    demo's is made by ``rdt-tui demo``, not pushed), said instead of ours when it is missing."""
    if not f.get("is_dir"):
        return check(
            "dataset",
            "Dataset",
            FAIL,
            "{} is not a directory".format(f.get("path")),
            hint or "push it: rdt-tui push HOST LOCAL_DIR " + str(f.get("path")),
        )
    if not f.get("count"):
        return check(
            "dataset",
            "Dataset",
            FAIL,
            "no file matches {} in {}".format(f.get("glob"), f.get("path")),
            hint or "check preflight.dataset_glob",
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


def stats_check(f: Dict[str, Any], params: Dict[str, Any]) -> Dict[str, Any]:
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


def config_check(f: Dict[str, Any]) -> Dict[str, Any]:
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


def weights_check(f: Dict[str, Any]) -> Dict[str, Any]:
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


def encoder_check(f: Dict[str, Any]) -> Dict[str, Any]:
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


def output_check(f: Dict[str, Any], weights: Optional[Dict[str, Any]], params: Dict[str, Any]):
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
