"""``rdt-tui demo``: the demo run on this machine (its dataset made first), followed headless
(``--headless``: metric points printed) or in the console (``console.run_console``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any

from ..client import AgentClient
from ..protocol.messages import RunSummary
from ..protocol.wire import points_of
from .common import CliError
from .words import status_word


async def live_demo_run(c: AgentClient) -> RunSummary | None:
    live = [r for r in await c.runs() if r["status"] == "running" and r.get("name") == "demo"]
    return live[0] if live else None


def demo_workdir(a: argparse.Namespace) -> str:
    """The demo's directory, with its dataset made and the training extra checked."""
    from ..config.demo import DemoUnavailable, check_training_extra, ensure_dataset
    from ..config.paths import demo_dir

    workdir = os.path.abspath(a.workdir or demo_dir())
    try:
        check_training_extra()
        ensure_dataset(workdir)
    except DemoUnavailable as exc:
        raise CliError(str(exc)) from None
    return workdir


def demo_profile_of(a: argparse.Namespace) -> Any:
    """The shipped demo profile in the demo's directory, with the command line's options."""
    from ..config.demo import demo_profile
    from ..config.profiles import ProfileError

    workdir = demo_workdir(a)
    try:
        return demo_profile(workdir, step_delay=a.step_delay, checkpoint_every=a.checkpoint_every)
    except ProfileError as exc:
        raise CliError(
            str(exc), "the demo is configs/runs/demo.toml in rdt-tui's checkout"
        ) from None


def demo_plan(a: argparse.Namespace) -> Any:
    """The launch form's plan for the demo: the demo profile's, so its runs resume as any."""
    from ..launch.plan import plan_of_profile

    plan = plan_of_profile(demo_profile_of(a))
    plan.title = "the demo (denoiser on a LIBERO-like dataset)"
    plan.values["max_steps"] = a.steps
    return plan


async def ensure_demo_run(c: AgentClient, a: argparse.Namespace) -> RunSummary:
    """The demo run already alive on this machine, else a new one (dataset made first)."""
    live = await live_demo_run(c)
    if live is not None:
        print(f"following the demo run already alive: {live['id']}", file=sys.stderr)
        return live
    profile = demo_profile_of(a)
    run = await c.launch_args(profile.launch_args({"max_steps": a.steps}))
    print(f"launched {run['id']} in {profile.cwd}", file=sys.stderr)
    return run


async def cmd_demo(c: AgentClient, a: argparse.Namespace) -> int:
    run = await ensure_demo_run(c, a)
    sub = await c.subscribe(run["id"], gpu=False)
    final: Mapping[str, Any] = {}
    async for ev in sub:
        if ev["event"] == "metric":
            for p in points_of(ev["data"]):
                step = "-" if p["step"] is None else p["step"]
                print(f"step {step:>6}  {p['name']:8} {p['value']}", flush=True)
        elif ev["event"] == "checkpoint" and ev["data"]["kind"] == "added":
            print(f"checkpoint {ev['data']['checkpoint']['name']}", flush=True)
        elif ev["event"] == "status" and ev["data"].get("complete"):
            final = ev["data"]
            break
    print(f"{run['id']} {status_word(final)}", file=sys.stderr)
    return 0 if final.get("status") == "exited" and final.get("exit_code") == 0 else 1


def add_parsers(sub: Any) -> None:
    sp = sub.add_parser(
        "demo",
        help="the demo: a small real 2-process training run on this machine",
        description="Make a small LIBERO-like dataset and train the demo "
        "denoiser on localhost as two real accelerate processes.",
    )
    sp.add_argument(
        "--headless", action="store_true", help="print metric points instead of opening the console"
    )
    sp.add_argument("--workdir", help="where the dataset and checkpoints go")
    sp.add_argument("--steps", type=int, default=600, help="training steps (default 600)")
    sp.add_argument(
        "--step-delay",
        type=float,
        default=0.25,
        help="seconds per step added so the run can be watched (default 0.25)",
    )
    sp.add_argument(
        "--checkpoint-every", type=int, default=100, help="steps between checkpoints (default 100)"
    )
    sp.add_argument("--simulate-gpus", type=int, default=0, help=argparse.SUPPRESS)
    sp.set_defaults(fn=cmd_demo, host="localhost")
