"""The launch plan: what a profile lets the user set on the launch form, the form's defaults,
and how the values become launch arguments (and the command line shown before a launch)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

# The interpreter the console runs in, for a profile run on the console's own machine (the
# demo): the environment `make setup` made, whatever PATH the agent's daemon has.
CONSOLE_PYTHON = "{console_python}"
PLACEHOLDERS = ("processes", "per_gpu_batch", "grad_accum", "max_steps", "mixed_precision")
# Filled per node of a multi-node profile (1 node, rank 0, this host when single).
NODE_PLACEHOLDERS = (
    "node_rank",
    "num_machines",
    "total_processes",
    "main_process_ip",
    "main_process_port",
)
SLURM_FILLS = ("node_rank", "main_process_ip")  # per node, from SLURM_NODEID and the nodelist
FORM_DEFAULTS: dict[str, Any] = {
    "processes": 1,
    "per_gpu_batch": 8,
    "grad_accum": 1,
    "max_steps": 1000,
    "mixed_precision": "no",
}


def form_defaults() -> dict[str, Any]:
    """The launch form's starting values where a profile's ``[form]`` says nothing: the one
    set (a plan without a profile starts from these too), with no GPU chosen."""
    return dict(FORM_DEFAULTS, gpus=[])


def fill_placeholders(
    text: str, values: dict[str, Any], node: dict[str, Any], keep: tuple[str, ...] = ()
) -> str:
    """``text`` with the form's placeholders from ``values`` (``{resume}`` too), the node's
    from ``node`` (except those in ``keep``: left for the node to fill), and
    ``{console_python}`` as this interpreter. Other braces are left alone."""
    for key in PLACEHOLDERS:
        text = text.replace("{" + key + "}", str(values[key]))
    for key in NODE_PLACEHOLDERS:
        if key not in keep:
            text = text.replace("{" + key + "}", str(node[key]))
    text = text.replace(CONSOLE_PYTHON, sys.executable)
    return text.replace("{resume}", str(values.get("resume")))


class PlanProfile(Protocol):
    """What a plan reads of a run profile (``config.profiles.Profile`` is one). A protocol,
    so this package never imports ``config``."""

    name: str
    path: str
    cwd: str | None
    hosts: list[str]
    stop_together: bool

    def launch_args(self, values: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def form_values(self) -> dict[str, Any]: ...

    def fields(self) -> list[str]: ...

    def preflight_params(self, values: dict[str, Any] | None = None) -> dict[str, Any]: ...


@dataclass
class LaunchPlan:
    """What a profile lets the user set, and how the values become launch arguments."""

    title: str
    build: Callable[[dict[str, Any]], dict[str, Any]]
    values: dict[str, Any] = field(default_factory=form_defaults)
    # The form fields this plan's command uses (a profile without a placeholder for the
    # batch size shows no batch field: editing it would change nothing).
    fields: tuple[str, ...] = PLACEHOLDERS
    # A profile naming several hosts launches one rank group per host.
    profile: PlanProfile | None = None

    @property
    def hosts(self) -> list[str]:
        return list(self.profile.hosts) if self.profile and len(self.profile.hosts) > 1 else []


def plan_of_profile(profile: PlanProfile) -> LaunchPlan:
    return LaunchPlan(
        title=f"profile {profile.name}",
        build=profile.launch_args,
        values=profile.form_values(),
        fields=tuple(profile.fields()),
        profile=profile,
    )


def resume_plan(profile: PlanProfile, checkpoint: str, run_cwd: str | None = None) -> LaunchPlan:
    """The plan that relaunches a run of ``profile`` from ``checkpoint`` (a path on the run's
    node): the profile's resume arguments filled. A single-host run resumes in the folder it
    ran in (``run_cwd``, as its status says: ``rdt-tui demo`` and ``launch --cwd`` run a
    profile somewhere else than its ``cwd``); a multi-host profile keeps its own ``cwd``,
    which each node reads against its own home. The profile's ``cwd`` is set to that folder."""
    if run_cwd and len(profile.hosts) <= 1:
        profile.cwd = run_cwd
    plan = plan_of_profile(profile)
    plan.values["resume"] = checkpoint
    plan.title += f", resumed from {checkpoint.rsplit('/', 1)[-1]}"
    return plan


def command_line(args: dict[str, Any]) -> str:
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted((args.get("env") or {}).items()))
    return (env + " " if env else "") + shlex.join(args["argv"])
