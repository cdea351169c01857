"""The argv each launcher makes of a profile's ``script`` and ``args``.

``launcher`` is one of :data:`LAUNCHERS`; ``command`` (the default) takes the profile's
``command`` as is. The launch form's values stay placeholders here (``{processes}``,
``{mixed_precision}``), and so do a multi-node profile's rendezvous flags (``{num_machines}``,
``{node_rank}``, ``{main_process_ip}``, ``{main_process_port}``): the profile fills them per
node when it makes the launch arguments (``config.profiles.Profile.launch_args``).

A launcher here is the argv of one node's job. A scheduler wraps that argv, it does not
replace it: under Slurm the batch script is made from the profile's ``[slurm]`` table by
``core/slurm_script.py`` (``check_options`` on the console, ``batch_script`` on the node),
and each node's ``srun`` task runs the argv made here. A launcher of another kind goes into
``_BUILDERS`` below, with its name in :data:`LAUNCHERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

LAUNCHERS = ("accelerate", "torchrun", "deepspeed", "python", "command")


class LaunchError(ValueError):
    """A launcher that cannot make its argv: names the key and what it expects (the caller
    adds the profile's file)."""


def accelerate_argv(script: str, args: list[str], extra: list[str], multi: bool) -> list[str]:
    machines = (
        [
            *("--num_machines", "{num_machines}", "--machine_rank", "{node_rank}"),
            *("--main_process_ip", "{main_process_ip}"),
            *("--main_process_port", "{main_process_port}"),
        ]
        if multi
        else []
    )
    # accelerate's --num_processes counts every process of every machine
    count = "{total_processes}" if multi else "{processes}"
    return [
        *("accelerate", "launch", "--num_processes", count, *machines),
        *("--mixed_precision", "{mixed_precision}", *extra, script, *args),
    ]


def torchrun_argv(script: str, args: list[str], extra: list[str], multi: bool) -> list[str]:
    machines = (
        [
            *("--nnodes", "{num_machines}", "--node_rank", "{node_rank}"),
            *("--master_addr", "{main_process_ip}", "--master_port", "{main_process_port}"),
        ]
        if multi
        else []
    )
    return ["torchrun", "--nproc_per_node", "{processes}", *machines, *extra, script, *args]


def deepspeed_argv(script: str, args: list[str], extra: list[str], multi: bool) -> list[str]:
    if multi:
        raise LaunchError(
            "a multi-node profile needs launcher accelerate or torchrun (or `command` "
            "with {node_rank} {num_machines} {main_process_ip} {main_process_port})"
        )
    return ["deepspeed", "--num_gpus", "{processes}", *extra, script, *args]


_BUILDERS: dict[str, Callable[[str, list[str], list[str], bool], list[str]]] = {
    "accelerate": accelerate_argv,
    "torchrun": torchrun_argv,
    "deepspeed": deepspeed_argv,
}


def launcher_argv(data: Mapping[str, Any], multi: bool = False) -> list[str]:
    """The argv a profile's table makes: its ``launcher`` with ``script``, ``args``,
    ``launcher_args`` (and ``python`` for the python launcher), or its ``command`` as is.
    ``multi``: the profile runs on several nodes. LaunchError says what is wrong."""
    launcher = str(data.get("launcher") or "command")
    if launcher not in LAUNCHERS:
        raise LaunchError(f"`launcher` must be one of {', '.join(LAUNCHERS)}")
    if launcher == "command":
        command = strings(data, "command")
        if not command:
            raise LaunchError(
                '`command` is required, e.g. command = ["python", "train.py"] '
                "(or a `launcher` with a `script`)"
            )
        return command
    script = data.get("script")
    if not isinstance(script, str) or not script:
        raise LaunchError(f'launcher {launcher!r} needs `script = "train.py"`')
    args = strings(data, "args")
    extra = strings(data, "launcher_args")
    if launcher == "python":
        return [str(data.get("python") or "python"), *extra, script, *args]
    return _BUILDERS[launcher](script, args, extra, multi)


def strings(data: Mapping[str, Any], key: str) -> list[str]:
    """``data[key]`` as a list of strings (numbers taken as their text); [] when absent."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise LaunchError(f"`{key}` must be a list of strings")
    return [str(v) for v in value]
