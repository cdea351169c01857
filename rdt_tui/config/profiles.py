"""Run profiles: a TOML file that says what to launch, where, and where its outputs go.

The argv builders per launcher and the form's defaults and placeholders live in
``rdt_tui/launch/``. Keys::

    name = "my-run"                 # optional, used in the run id
    command = ["python", "train.py", "--lr", "1e-4"]   # required, an argv list
    cwd = "~/RoboticsDiffusionTransformer"             # optional, on the node
    gpus = [0, 1]                   # optional; refused when a live run holds them
    log_files = ["outputs/*/logs.json.txt"]            # optional, newest match is followed
    event_files = "logs/**/events.out.tfevents.*"       # optional: TensorBoard's exact scalars
    metric_source = "events"        # optional: which feeds a name both give ("events" | "log")
    checkpoint_dir = "checkpoints"  # optional, relative to the run's cwd; ~ is the node's home
    checkpoint_globs = ["checkpoint-*"]                # optional
    stop_signal = "SIGINT"          # optional
    [env]                           # optional
    WANDB_MODE = "offline"
    resume_args = ["--resume_from_checkpoint={resume}"]   # optional: how to resume
    resume_at = "end"               # or "script": right after the script, before its args
    [form]                          # optional: the launch form's starting values
    processes = 2
    per_gpu_batch = 32

    [preflight]                     # optional: what `rdt-tui preflight` checks (docs/profiles.md)
    python = "/opt/conda/envs/rdt/bin/python"
    dataset_dir = "data/datasets/agilex"

Placeholders: ``{processes}``, ``{per_gpu_batch}``, ``{grad_accum}``, ``{max_steps}`` and
``{mixed_precision}`` in ``command`` items and ``env`` values are replaced by the launch
form's values; the form shows only the fields a profile uses (and GPUs always).
``{console_python}`` (command, env, ``preflight.python``) is the console's own interpreter,
for profiles run on the console's machine; ``{run_id}`` (command, env, ``checkpoint_dir``) is
filled by the agent with the new run's id; ``{demo_dir}`` in ``cwd`` is the console's demo
folder (where ``rdt-tui demo`` makes its dataset). Braces that are not one of these names are left
alone, so ``python -c`` code keeps its f-strings.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

import tomllib

from ..core.alerts import DEFAULT_RULES, merge_rules
from ..core.formats import FORMATS as METRIC_FORMATS
from ..launch.launchers import LaunchError, launcher_argv, strings
from ..launch.plan import (
    CONSOLE_PYTHON,
    FORM_DEFAULTS,
    PLACEHOLDERS,
    SLURM_FILLS,
    fill_placeholders,
)
from .event_keys import event_keys
from .paths import config_dir, demo_dir
from .resume import resume_index
from .slurm_keys import slurm_keys, slurm_nodes

DEMO_DIR = "{demo_dir}"

# [preflight] keys and their types (see docs/profiles.md for what each one checks).
PREFLIGHT_KEYS: dict[str, type | tuple[type, ...]] = {
    "python": str,
    "packages": list,
    "cpu": bool,
    "dataset_dir": str,
    "dataset_glob": str,
    "dataset_hint": str,
    "local_dataset_dir": str,
    "stats_file": str,
    "dataset_name": str,
    "stats_keys": list,
    "stats_index_map": list,
    "stats_scale": dict,
    "stats_command": list,
    "state_dim": int,
    "weights": str,
    "encoders": list,
    "output_dir": str,
    "keep_checkpoints": int,
    "ignores_total_limit": bool,
    "script": str,
    "configs": list,
    "hub": bool,
    "wandb": bool,
    "master_port": int,
}
DEFAULT_PACKAGES = ["torch", "accelerate", "transformers", "h5py", "safetensors"]


class ProfileError(Exception):
    """A profile that cannot be used: names the file, the key and what is expected."""


@dataclass
class Profile:
    name: str
    command: list[str]
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    gpus: list[str] | None = None
    log_files: list[str] = field(default_factory=list)
    event_files: list[str] = field(default_factory=list)
    metric_source: str | dict[str, str] = "events"
    checkpoint_dir: str | None = None
    checkpoint_globs: list[str] = field(default_factory=list)
    stop_signal: str = "SIGINT"
    form: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    preflight: dict[str, Any] = field(default_factory=dict)
    metric_format: str = "auto"
    launcher: str = "command"
    resume_args: list[str] = field(default_factory=list)
    resume_index: int | None = None  # where resume_args go in `command` (None: the end)
    hosts: list[str] = field(default_factory=list)
    main_process_ip: str = "127.0.0.1"
    main_process_port: int = 29500
    stop_together: bool = True
    alerts: dict[str, Any] = field(default_factory=dict)  # [alerts]: overrides the user's rules
    scheduler: str = "local"  # "slurm": a batch job from the [slurm] table (slurm_keys.py)
    slurm: dict[str, Any] = field(default_factory=dict)

    def preflight_params(self, values: dict[str, Any] | None = None) -> dict[str, Any]:
        """What the preflight checks read: the ``[preflight]`` table with its defaults, plus
        the command and process count the launch form would use."""
        args = self.launch_args(values)
        params = {"packages": list(DEFAULT_PACKAGES), **self.preflight}
        if isinstance(params.get("python"), str) and CONSOLE_PYTHON in params["python"]:
            params["python"] = params["python"].replace(CONSOLE_PYTHON, sys.executable)
            params["python_from"] = "the console's environment"  # said in the checklist
        params.setdefault("output_dir", args.get("checkpoint_dir") or self.checkpoint_dir)
        params.setdefault("checkpoint_globs", self.checkpoint_globs)
        params["argv"] = args["argv"]
        params["processes"] = int(dict(self.form_values(), **(values or {}))["processes"])
        if self.scheduler == "slurm":
            params["slurm"] = dict(self.slurm)
        return params

    def fields(self) -> list[str]:
        """The placeholders this profile's command and environment use, in form order."""
        text = "\n".join([*self.command, *self.env.values()])
        return [key for key in PLACEHOLDERS if "{" + key + "}" in text]

    def form_values(self) -> dict[str, Any]:
        values = dict(FORM_DEFAULTS, **self.form)
        values["gpus"] = list(self.gpus or [])
        return values

    def launch_args(self, values: dict[str, Any] | None = None) -> dict[str, Any]:
        """Launch arguments with the placeholders filled (from ``values``, else the form
        defaults); ``values["gpus"]`` (ids) also sets ``CUDA_VISIBLE_DEVICES``."""
        values = dict(self.form_values(), **(values or {}))
        resume = values.get("resume")
        machines = max(1, len(self.hosts), int(self.slurm.get("nodes", 1)))
        node = {
            "node_rank": int(values.get("node_rank") or 0),
            "num_machines": machines,
            "total_processes": int(values["processes"]) * machines,
            "main_process_ip": self.main_process_ip,
            "main_process_port": self.main_process_port,
        }

        # Under Slurm each node's srun task fills these from Slurm's environment.
        keep = SLURM_FILLS if machines > 1 and self.scheduler == "slurm" else ()

        def fill(text: str) -> str:
            return fill_placeholders(text, values, node, keep)

        env = {k: fill(v) for k, v in self.env.items()}
        gpus = [str(g) for g in values.get("gpus") or []] or None
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
        argv = list(self.command)
        if resume:
            if not self.resume_args:
                raise ProfileError(f"{self.path}: no `resume_args`: this profile cannot resume")
            at = len(argv) if self.resume_index is None else self.resume_index
            argv[at:at] = self.resume_args
        return {
            "profile": self.path or self.name,
            "argv": [fill(arg) for arg in argv],
            "cwd": self.cwd,
            "env": env,
            "gpus": gpus,
            "name": self.name,
            "log_files": self.log_files,
            "event_files": self.event_files,
            "metric_source": self.metric_source,
            # As written: the agent expands `~` with the node's home and puts a relative
            # path under the run's cwd (the profile's, or the one `--cwd` gives instead).
            "checkpoint_dir": self.checkpoint_dir,
            "checkpoint_globs": self.checkpoint_globs,
            "stop_signal": self.stop_signal,
            "metric_format": self.metric_format,
            "alerts": self.alerts or None,
            **({"resume": str(resume)} if resume else {}),  # the agent checks it is there
            **(self._slurm_args(bool(resume)) if self.scheduler == "slurm" else {}),
        }

    def _slurm_args(self, resuming: bool) -> dict[str, Any]:
        """The [slurm] table; with requeue = true and resume_args, how a requeued attempt
        resumes from the newest checkpoint (not when this launch already resumes one)."""
        args: dict[str, Any] = {"scheduler": "slurm", "slurm": self.slurm}
        if self.slurm.get("requeue") and self.resume_args and not resuming:
            args["slurm_resume"] = {"args": self.resume_args, "index": self.resume_index}
        return args


def _list_of_str(path: str, data: dict[str, Any], key: str) -> list[str]:
    try:
        return strings(data, key)
    except LaunchError as exc:
        raise ProfileError(f"{path}: {exc}") from None


def load_profile(path: str) -> Profile:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ProfileError(f"profile {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None
    nodes = data.get("hosts") or []
    multi = (isinstance(nodes, list) and len(nodes) > 1) or slurm_nodes(data) > 1
    try:
        command = launcher_argv(data, multi)
    except LaunchError as exc:
        raise ProfileError(f"{path}: {exc}") from None
    metric_format = str(data.get("metric_format") or "auto")
    if metric_format not in METRIC_FORMATS:
        raise ProfileError(
            f"{path}: `metric_format` must be one of {', '.join(sorted(METRIC_FORMATS))}"
        )
    env = data.get("env", {})
    if not isinstance(env, dict):
        raise ProfileError(f'{path}: `env` must be a table of NAME = "value"')
    gpus = data.get("gpus")
    form = data.get("form", {})
    if not isinstance(form, dict) or set(form) - set(FORM_DEFAULTS):
        raise ProfileError(
            f"{path}: `[form]` takes only {', '.join(FORM_DEFAULTS)} (the launch form's values)"
        )
    for key, value in form.items():
        if key != "mixed_precision" and (not isinstance(value, int) or value < 1):
            raise ProfileError(f"{path}: `form.{key}` must be a whole number of at least 1")
    preflight = data.get("preflight", {})
    if not isinstance(preflight, dict):
        raise ProfileError(f"{path}: `[preflight]` must be a table")
    items: list[tuple[str, Any]] = list(preflight.items())
    for key, value in items:
        expected = PREFLIGHT_KEYS.get(key)
        if expected is None:
            raise ProfileError(
                f"{path}: `preflight.{key}` is not a preflight key "
                f"(known: {', '.join(sorted(PREFLIGHT_KEYS))})"
            )
        if (isinstance(value, bool) and expected is int) or not isinstance(value, expected):
            kind = getattr(expected, "__name__", str(expected))
            raise ProfileError(f"{path}: `preflight.{key}` must be a {kind}, not {value!r}")
        members = value if isinstance(value, list) else []
        if key == "stats_index_map" and not all(
            isinstance(v, int) and not isinstance(v, bool) for v in members
        ):
            raise ProfileError(f"{path}: `preflight.stats_index_map` must list whole numbers")
        if key in ("packages", "stats_keys", "encoders", "configs", "stats_command") and not all(
            isinstance(v, str) for v in members
        ):
            raise ProfileError(f"{path}: `preflight.{key}` must be a list of strings")
        if key == "stats_command" and not any("{output}" in v for v in members):
            raise ProfileError(
                f"{path}: `preflight.stats_command` must write the statistics to {{output}}, "
                'e.g. ["{python}", "-m", "data.compute_dataset_stat_hdf5", "--save_path", '
                '"{output}"]'
            )
        if key == "stats_scale" and isinstance(value, dict):
            _check_scale(path, value)
    try:
        events = dict(event_keys(path, data), **slurm_keys(path, data))
    except ValueError as exc:
        raise ProfileError(str(exc)) from None
    return Profile(
        **events,
        name=str(data.get("name") or os.path.splitext(os.path.basename(path))[0]),
        command=command,
        # {demo_dir}: the console's demo folder (the user data dir's, RDT_TUI_DATA_DIR's).
        cwd=str(data["cwd"]).replace(DEMO_DIR, demo_dir()) if data.get("cwd") else None,
        env={str(k): str(v) for k, v in env.items()},
        gpus=None if gpus is None else _list_of_str(path, data, "gpus"),
        log_files=_list_of_str(path, data, "log_files"),
        checkpoint_dir=str(data["checkpoint_dir"]) if data.get("checkpoint_dir") else None,
        checkpoint_globs=_list_of_str(path, data, "checkpoint_globs"),
        stop_signal=str(data.get("stop_signal") or "SIGINT"),
        form=dict(form),
        path=path,
        preflight=dict(preflight),
        metric_format=metric_format,
        launcher=str(data.get("launcher") or "command"),
        resume_args=_list_of_str(path, data, "resume_args"),
        resume_index=_resume_index(path, data, command),
        hosts=_list_of_str(path, data, "hosts"),
        main_process_ip=_str_of(path, data, "main_process_ip", "127.0.0.1"),
        main_process_port=_port_of(path, data),
        stop_together=bool(data.get("stop_together", True)),
        alerts=_alerts_of(path, data),
    )


def _alerts_of(path: str, data: dict[str, Any]) -> dict[str, Any]:
    problems = merge_rules(DEFAULT_RULES, data.get("alerts", {}))[1]
    if problems:
        raise ProfileError(f"{path}: {problems[0]} (docs/alerts.md)")
    return dict(data.get("alerts", {}))


def _resume_index(path: str, data: dict[str, Any], command: list[str]) -> int | None:
    launcher = str(data.get("launcher") or "command")
    try:
        return resume_index(
            data.get("resume_at"),
            _list_of_str(path, data, "resume_args"),
            _list_of_str(path, data, "args") if launcher != "command" else None,
            command,
        )
    except ValueError as exc:
        raise ProfileError(f"{path}: {exc}") from None


def _check_scale(path: str, scale: dict[str, Any]) -> None:
    for dim, factor in scale.items():
        number = isinstance(factor, (int, float)) and not isinstance(factor, bool)
        if not dim.isdigit() or not number or not 0 < factor < float("inf"):
            raise ProfileError(
                f"{path}: `preflight.stats_scale` maps a dimension (0, 1, ...) to the positive "
                f"number it is divided by, e.g. {{ 6 = 4.7908 }}; not {dim} = {factor!r}"
            )


def _str_of(path: str, data: dict[str, Any], key: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise ProfileError(f"{path}: `{key}` must be a non-empty string")
    return value


def _port_of(path: str, data: dict[str, Any]) -> int:
    port = data.get("main_process_port", 29500)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ProfileError(f"{path}: `main_process_port` must be a port number 1-65535")
    return port


def profile_dirs() -> list[str]:
    """Where profiles are looked up: the project's, the user's, then those shipped with us."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return [
        os.path.join(os.getcwd(), "configs", "runs"),
        os.path.join(config_dir(), "runs"),
        os.path.join(here, "configs", "runs"),
    ]


def list_profiles(dirs: list[str] | None = None) -> list[tuple[str, Profile | ProfileError]]:
    """Every profile by name (the first directory wins), each loaded or with its error."""
    seen: dict[str, Profile | ProfileError] = {}
    for directory in dirs if dirs is not None else profile_dirs():
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for fname in names:
            name, ext = os.path.splitext(fname)
            if ext != ".toml" or name in seen:
                continue
            try:
                seen[name] = load_profile(os.path.join(directory, fname))
            except ProfileError as exc:
                seen[name] = exc
    return list(seen.items())


def find_profile(name_or_path: str, search: list[str]) -> str:
    """A profile's path: the path itself, or ``<dir>/<name>.toml`` in the first dir having it."""
    if os.path.exists(name_or_path):
        return name_or_path
    for directory in search:
        candidate = os.path.join(directory, name_or_path + ".toml")
        if os.path.exists(candidate):
            return candidate
    where = ", ".join(dict.fromkeys(os.path.abspath(d) for d in search))  # each folder once
    names = sorted(
        {
            f[: -len(".toml")]
            for d in search
            if os.path.isdir(d)
            for f in os.listdir(d)
            if f.endswith(".toml")
        }
    )
    available = ", ".join(names) if names else "none"
    raise ProfileError(f"no profile {name_or_path!r} (looked in {where}); available: {available}")
