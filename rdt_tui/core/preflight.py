"""The preflight rules: node facts (gathered by the agent, ``agent/facts.py``) in, a checklist
out. Each check has an id, a title, a status (pass, warn, fail, skip), a detail, a hint, and
where one exists a fix: an agent op with its arguments, which the console or
``rdt-tui preflight --fix ID`` sends as is.
"""

import os
from typing import Any, Dict, List, Optional

from .checks import FAIL, PASS, SKIP, WARN, check, summary
from .preflight_data import (
    config_check,
    dataset_check,
    dataset_identity,
    encoder_check,
    output_check,
    stats_check,
    weights_check,
)
from .units import human_size

# Also imported from here by the console and the CLI.
__all__ = ["FAIL", "PASS", "SKIP", "WARN", "check", "dataset_identity", "evaluate", "summary"]

DEFAULT_PACKAGES = ["torch", "accelerate", "transformers", "h5py", "safetensors"]


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
        out.append(dataset_check(facts["dataset"], params.get("dataset_hint")))
    if "stats_file" in facts:
        out.append(stats_check(facts["stats_file"], params))
    out.extend(config_check(c) for c in facts.get("configs") or [])
    if "weights" in facts:
        out.append(weights_check(facts["weights"]))
    out.extend(encoder_check(e) for e in facts.get("encoders") or [])
    if "output" in facts:
        out.append(output_check(facts["output"], facts.get("weights"), params))
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
