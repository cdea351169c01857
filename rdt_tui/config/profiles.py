"""Run profiles: a TOML file that says what to launch, where, and where its outputs go.

This is the minimal form the agent issue needs; the profile issue grows it (launchers,
placeholders, preflight parameters). Keys::

    name = "my-run"                 # optional, used in the run id
    command = ["python", "train.py", "--lr", "1e-4"]   # required, an argv list
    cwd = "~/RoboticsDiffusionTransformer"             # optional, on the node
    gpus = [0, 1]                   # optional; refused when a live run holds them
    log_files = ["outputs/*/logs.json.txt"]            # optional, newest match is followed
    checkpoint_dir = "checkpoints"  # optional, relative to cwd
    checkpoint_globs = ["checkpoint-*"]                # optional
    stop_signal = "SIGINT"          # optional
    [env]                           # optional
    WANDB_MODE = "offline"
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import tomllib


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
    checkpoint_dir: str | None = None
    checkpoint_globs: list[str] = field(default_factory=list)
    stop_signal: str = "SIGINT"

    def launch_args(self) -> dict[str, Any]:
        ckpt = self.checkpoint_dir
        if ckpt and self.cwd and not os.path.isabs(os.path.expanduser(ckpt)):
            ckpt = os.path.join(self.cwd, ckpt)
        return {
            "argv": self.command,
            "cwd": self.cwd,
            "env": self.env,
            "gpus": self.gpus,
            "name": self.name,
            "log_files": self.log_files,
            "checkpoint_dir": ckpt,
            "checkpoint_globs": self.checkpoint_globs,
            "stop_signal": self.stop_signal,
        }


def _list_of_str(path: str, data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise ProfileError(f"{path}: `{key}` must be a list of strings")
    return [str(v) for v in value]


def load_profile(path: str) -> Profile:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ProfileError(f"profile {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None
    command = _list_of_str(path, data, "command")
    if not command:
        raise ProfileError(f'{path}: `command` is required, e.g. command = ["python", "train.py"]')
    env = data.get("env", {})
    if not isinstance(env, dict):
        raise ProfileError(f'{path}: `env` must be a table of NAME = "value"')
    gpus = data.get("gpus")
    return Profile(
        name=str(data.get("name") or os.path.splitext(os.path.basename(path))[0]),
        command=command,
        cwd=str(data["cwd"]) if data.get("cwd") else None,
        env={str(k): str(v) for k, v in env.items()},
        gpus=None if gpus is None else _list_of_str(path, data, "gpus"),
        log_files=_list_of_str(path, data, "log_files"),
        checkpoint_dir=str(data["checkpoint_dir"]) if data.get("checkpoint_dir") else None,
        checkpoint_globs=_list_of_str(path, data, "checkpoint_globs"),
        stop_signal=str(data.get("stop_signal") or "SIGINT"),
    )


def find_profile(name_or_path: str, search: list[str]) -> str:
    """A profile's path: the path itself, or ``<dir>/<name>.toml`` in the first dir having it."""
    if os.path.exists(name_or_path):
        return name_or_path
    for directory in search:
        candidate = os.path.join(directory, name_or_path + ".toml")
        if os.path.exists(candidate):
            return candidate
    raise ProfileError(f"no profile {name_or_path!r} (looked in {', '.join(search)})")
