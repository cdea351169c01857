"""``rdt-tui``: the console (``demo``, ``watch``) and the headless subcommands beside it.

Every subcommand exits non-zero on error with the message (and a hint) on stderr, never a
traceback; ``--json`` prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .client import AgentCallError, AgentClient
from .core.units import human_size
from .transport.base import TransportError

LOCAL_HOSTS = ("localhost", "local", "127.0.0.1")


class CliError(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# A session keeps a connection nobody holds this long: a reconnect, or the console's `t` then
# the check that follows, takes it without asking for the password or code again.
LINGER_S = 120.0


def cli_session(linger_s: float = 0.0) -> Any:
    """An SSH session that asks on the terminal, or through SSH_ASKPASS as OpenSSH does.
    With ``linger_s``, close it (``.close()``) when done."""
    from .transport.auth import OpenSshPrompter
    from .transport.session import SshSession

    return SshSession(OpenSshPrompter(), linger_s=linger_s)


def console_session() -> tuple[Any, Any]:
    """The console's prompter (a modal) and the SSH session all its screens share."""
    from .transport.session import SshSession
    from .tui.secret_prompt import ConsolePrompter

    prompter = ConsolePrompter()
    return prompter, SshSession(prompter, linger_s=LINGER_S)


def make_client(
    host: str, simulate_gpus: int = 0, reconnect: bool = False, session: Any = None
) -> AgentClient:
    """A client for ``localhost`` (no SSH) or a host from ~/.ssh/config or a hosts file.

    ``session`` (a transport.session.SshSession) is shared by the clients of one console or
    command: one prompt per connection, one connection per hop. Default: :func:`cli_session`.
    """
    if host in LOCAL_HOSTS:
        from .transport.local import LocalTransport

        transport: Any = LocalTransport(os.environ.get("RDT_TUI_STATE_DIR"), simulate_gpus)
    else:
        from .config.hosts import HostBook, HostsError
        from .transport.ssh import SshTransport

        try:
            book = HostBook.load()
            entry = book.get(host)
            hops = book.chain(host)
        except HostsError as exc:
            raise CliError(str(exc), "fix the entry, then run `rdt-tui hosts`") from None
        transport = SshTransport(
            host,
            hops,
            python=entry.python,
            state_dir=entry.state_dir,
            simulate_gpus=simulate_gpus,
            session=session or cli_session(),
        )
    return AgentClient(transport, reconnect=reconnect)


def emit_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2, sort_keys=True, default=str))


def _age(ts: float | None) -> str:
    if not ts:
        return "-"
    secs = max(0, int(time.time() - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit} ago"
    return f"{secs}s ago"


def _status_word(s: dict[str, Any]) -> str:
    if s.get("exit_code_known") is False and s["status"] != "running":  # an adopted run
        return f"{s['status']} (exit code unknown)"
    if s.get("slurm_job_id"):
        from .cli_slurm import slurm_word

        return slurm_word(s)
    if s["status"] in ("exited", "stopped"):
        code = s.get("exit_code")
        sig = s.get("signal")
        word = f"{s['status']} ({'signal ' + str(sig) if sig else code})"
        left = len(s.get("leftover") or [])
        return word + (f", {left} process{'es' if left > 1 else ''} left" if left else "")
    return str(s["status"])


# ----- subcommands ------------------------------------------------------------------------
async def cmd_runs(c: AgentClient, a: argparse.Namespace) -> int:
    runs = await c.runs()
    if a.json:
        emit_json(runs)
        return 0
    if not runs:
        print("no runs on", c.host)
        return 0
    print(f"{'RUN':40} {'STATUS':18} {'STARTED':10} COMMAND")
    # Like ps: on a terminal the command is cut at its right edge; into a pipe or a file
    # (grep, a script) it is whole, so what is printed never depends on a path's length.
    room = shutil.get_terminal_size().columns - 72 if sys.stdout.isatty() else None
    # Oldest first, newest last (like `ls -tr`): the run just launched is by the prompt.
    for r in sorted(runs, key=lambda r: (r.get("started_at") or 0, r["id"])):
        cmd = " ".join(shlex.quote(arg) for arg in r.get("argv") or [])
        # A newline or a control character in an argument must not break the listing.
        cmd = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in cmd)
        if room is not None and len(cmd) > max(room, 20):
            cmd = cmd[: max(room, 20) - 1] + "…"
        print(f"{r['id']:40} {_status_word(r):18} {_age(r.get('started_at')):10} {cmd}")
    return 0


async def cmd_status(c: AgentClient, a: argparse.Namespace) -> int:
    s = await c.status(a.run)
    if a.json:
        emit_json(s)
        return 0
    print(f"run      {s['id']}\nstatus   {_status_word(s)}\nstarted  {_age(s.get('started_at'))}")
    print(f"command  {' '.join(s.get('argv') or [])}\ncwd      {s.get('cwd')}")
    if s.get("kind") == "adopted":  # started by hand: its own log, read where it is
        print(f"log      {s.get('log')} (adopted: exit code unknown once it ends)")
    if s.get("slurm_job_id"):
        from .cli_slurm import slurm_lines

        print("\n".join(slurm_lines(s)))
    if s.get("held_by"):  # what finds every process of the run when it is stopped
        print(f"held by  {', '.join(s['held_by'])}")
    if s.get("error"):
        print(f"problem  {s['error']}")
    return 0


def set_values(items: list[str] | None) -> dict[str, Any]:
    """``--set FIELD=VALUE`` items as launch-form values (what the form's fields accept)."""
    from .config.profiles import FORM_DEFAULTS

    values: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or key not in FORM_DEFAULTS:
            raise CliError(
                f"--set {item!r}: not a form field",
                "fields: processes, per_gpu_batch, grad_accum, max_steps, mixed_precision",
            )
        if key == "mixed_precision":
            values[key] = value
        elif not value.isdigit() or int(value) < 1:
            raise CliError(f"--set {key}={value}: a whole number of at least 1 is expected")
        else:
            values[key] = int(value)
    return values


async def cmd_launch(c: AgentClient, a: argparse.Namespace) -> int:
    from .config.profiles import ProfileError, find_profile, load_profile, profile_dirs

    args: dict[str, Any] = {}
    if a.profile:
        try:
            profile = load_profile(find_profile(a.profile, profile_dirs()))
        except ProfileError as exc:
            raise CliError(str(exc), "see the profile keys in rdt_tui/config/profiles.py") from None
        values = set_values(a.set)
        if a.resume:
            values["resume"] = a.resume
        try:
            args.update(profile.launch_args(values))
        except ProfileError as exc:
            raise CliError(str(exc), "add resume_args to the profile") from None
    elif a.set or a.resume:
        raise CliError("--set and --resume work on a profile", "give a --profile too")
    command = list(a.command)
    if command:
        args["argv"] = command
    if a.cwd:
        args["cwd"] = os.path.abspath(a.cwd) if c.host in LOCAL_HOSTS else a.cwd
    if a.name:
        args["name"] = a.name
    if a.gpus is not None:
        args["gpus"] = [g for g in a.gpus.split(",") if g]
    env = dict(args.get("env") or {})
    for item in a.env or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--env {item!r} is not NAME=VALUE")
        env[key] = value
    args["env"] = env
    if a.log_file:
        args["log_files"] = a.log_file
    if a.event_files:
        args["event_files"] = a.event_files
    if a.metric_source:
        args["metric_source"] = a.metric_source
    if a.checkpoint_dir:
        args["checkpoint_dir"] = a.checkpoint_dir
    args["force"] = a.force
    if not args.get("argv"):
        raise CliError(
            "no command to launch",
            "give one after `--` (rdt-tui launch localhost -- python train.py) or a --profile",
        )
    result = await c.launch_args(args)
    if a.json:
        emit_json(dict(result, run=result["id"]))
    else:
        print(f"launched {result['id']} ({_status_word(result)})")
    for warning in result.get("warnings") or []:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


async def cmd_logs(c: AgentClient, a: argparse.Namespace) -> int:
    if a.all:  # the whole log, paged from the agent by offset
        end = 0
        while True:
            chunk = await c.log(a.run, since=end)
            sys.stdout.write(chunk["text"])
            if chunk["end"] <= end:
                break
            end = chunk["end"]
        sys.stdout.flush()
    else:
        # --tail 0 prints nothing (a follow then starts at the end of the log)
        tail = await c.tail(a.run, max(1, a.tail))
        for line in tail["lines"] if a.tail > 0 else []:
            print(line)
        end = tail["end"]
    if not a.follow:
        return 0
    sub = await c.subscribe(
        a.run, {"log": end, "metric": 1 << 62, "checkpoint": 1 << 30}, gpu=False
    )
    async for ev in sub:
        if ev["event"] == "log":
            sys.stdout.write(ev["data"]["text"].replace("\r\n", "\n").replace("\r", "\n"))
            sys.stdout.flush()
        elif ev["event"] == "status" and ev["data"].get("complete"):
            break
    return 0


async def cmd_metrics(c: AgentClient, a: argparse.Namespace) -> int:
    from .cli_metrics import cmd_aligned, is_aligned

    if is_aligned(a):
        return await cmd_aligned(c, a)
    points = await c.all_metrics(a.run)
    if a.name:
        points = [p for p in points if p["name"] in a.name]
    # What the agent skipped or found wrong in the run's event files (a damaged record...).
    for problem in (await c.metrics(a.run, 0, 0)).get("problems") or []:
        print(f"warning: {problem}", file=sys.stderr)
    if a.json:
        keys = ("name", "value", "step", "seq", "source")
        emit_json([{k: p.get(k) for k in keys} for p in points])
        return 0
    for p in points:
        step = p["step"] if p["step"] is not None else "-"
        print(f"{step:>8}  {p['name']:24} {p['value']!s:24} {p.get('source', 'log')}")
    return 0


async def cmd_stop(c: AgentClient, a: argparse.Namespace) -> int:
    s = await c.stop(a.run, a.grace, a.signal)
    if a.json:
        emit_json(s)
    elif s.get("already_ended"):
        print(f"{s['id']} had already ended: {_status_word(s)}")
    else:
        print(f"{s['id']} {_status_word(s)}")
    if s.get("stop_incomplete"):
        print(f"{s['id']}: {s.get('error')}", file=sys.stderr)
        return 1  # processes of the run are left (stuck in the kernel): not a clean stop
    return 0


async def cmd_checkpoints(c: AgentClient, a: argparse.Namespace) -> int:
    listing = await c.checkpoints(a.run)
    if a.json:
        emit_json(listing)
        return 0
    disk = listing["disk"]
    print(
        f"{listing['directory']}  (free {human_size(disk.get('free'))} "
        f"of {human_size(disk.get('total'))})"
    )
    if not listing["checkpoints"]:
        print("no checkpoints yet")
    for ck in listing["checkpoints"]:
        step = ck["step"] if ck["step"] is not None else "-"
        print(
            f"{step!s:>8}  {human_size(ck['size']):>10}  {_age(ck['mtime']):>10}  {ck['name']}"
            f"  {' '.join(ck['notable'])}"
        )
    return 0


async def cmd_gpus(c: AgentClient, a: argparse.Namespace) -> int:
    sample = (await c.gpus())["samples"][-1]
    if a.json:
        emit_json(sample)
        return 0
    label = "  [SIMULATED]" if sample["simulated"] else ""
    host = sample["host"]
    print(
        f"{c.host}: CPU {host.get('cpu_percent') or 0:.0f}% of {host.get('cpus')} cores, "
        f"memory {human_size(host.get('mem_used'))} / {human_size(host.get('mem_total'))}{label}"
    )
    if not sample["gpus"]:
        print(f"no GPUs: {sample['reason']}")
    for g in sample["gpus"]:
        name = ("SIMULATED " if sample["simulated"] and "SIMULATED" not in g["name"] else "") + str(
            g["name"]
        )
        print(
            f"  [{g['index']}] {name:24} util {g['util'] if g['util'] is not None else '-':>3}%"
            f"  mem {human_size(g['mem_used'])} / {human_size(g['mem_total'])}"
            f"  {g['temp'] if g['temp'] is not None else '-'}C"
            f"  {g['power'] if g['power'] is not None else '-'}W"
            f"  procs {len(g['processes'])}"
        )
    return 0


async def live_demo_run(c: AgentClient) -> dict[str, Any] | None:
    live = [r for r in await c.runs() if r["status"] == "running" and r.get("name") == "demo"]
    return live[0] if live else None


def demo_workdir(a: argparse.Namespace) -> str:
    """The demo's directory, with its dataset made and the training extra checked."""
    from .config.paths import demo_dir
    from .demo.job import DemoUnavailable, check_training_extra, ensure_dataset

    workdir = os.path.abspath(a.workdir or demo_dir())
    try:
        check_training_extra()
        ensure_dataset(workdir)
    except DemoUnavailable as exc:
        raise CliError(str(exc)) from None
    return workdir


def demo_plan(a: argparse.Namespace) -> Any:
    """The launch form's plan for the demo."""
    from .demo.job import demo_launch_args
    from .tui.launch_screen import LaunchPlan

    workdir = demo_workdir(a)

    def build(v: dict[str, Any]) -> dict[str, Any]:
        args = demo_launch_args(
            workdir,
            max_steps=int(v["max_steps"]),
            step_delay=a.step_delay,
            checkpoint_every=a.checkpoint_every,
            processes=int(v["processes"]),
            per_gpu_batch=int(v["per_gpu_batch"]),
            grad_accum=int(v["grad_accum"]),
            mixed_precision=str(v["mixed_precision"]),
        )
        if v.get("gpus"):
            args["gpus"] = list(v["gpus"])
            args["env"]["CUDA_VISIBLE_DEVICES"] = ",".join(v["gpus"])
        return args

    plan = LaunchPlan("the demo (denoiser on a LIBERO-like dataset)", build)
    plan.values["max_steps"] = a.steps
    return plan


async def ensure_demo_run(c: AgentClient, a: argparse.Namespace) -> dict[str, Any]:
    """The demo run already alive on this machine, else a new one (dataset made first)."""
    from .demo.job import demo_launch_args

    live = await live_demo_run(c)
    if live is not None:
        print(f"following the demo run already alive: {live['id']}", file=sys.stderr)
        return live
    workdir = demo_workdir(a)
    args = demo_launch_args(
        workdir, max_steps=a.steps, step_delay=a.step_delay, checkpoint_every=a.checkpoint_every
    )
    run = await c.launch_args(args)
    print(f"launched {run['id']} in {workdir}", file=sys.stderr)
    return run


async def cmd_demo(c: AgentClient, a: argparse.Namespace) -> int:
    run = await ensure_demo_run(c, a)
    sub = await c.subscribe(run["id"], gpu=False)
    final: dict[str, Any] = {}
    async for ev in sub:
        if ev["event"] == "metric":
            for p in ev["data"]["points"]:
                step = "-" if p["step"] is None else p["step"]
                print(f"step {step:>6}  {p['name']:8} {p['value']}", flush=True)
        elif ev["event"] == "checkpoint" and ev["data"]["kind"] == "added":
            print(f"checkpoint {ev['data']['checkpoint']['name']}", flush=True)
        elif ev["event"] == "status" and ev["data"].get("complete"):
            final = ev["data"]
            break
    print(f"{run['id']} {_status_word(final)}", file=sys.stderr)
    return 0 if final.get("status") == "exited" and final.get("exit_code") == 0 else 1


def run_console(a: argparse.Namespace) -> int:
    """The console on one run: the demo's (launched if none is alive) or ``watch HOST RUN``."""
    from .tui.app import make_app

    prompter, session = console_session()

    async def open_run() -> tuple[AgentClient, Any]:
        client = make_client(a.host, a.simulate_gpus, reconnect=True, session=session)
        await client.connect()
        if a.cmd == "watch":
            return client, str((await client.status(a.run))["id"])
        live = await live_demo_run(client)
        if live is not None:
            return client, str(live["id"])  # come back to the run already going
        # Making the dataset is disk work: off the console's event loop.
        return client, await asyncio.to_thread(demo_plan, a)

    app = make_app(open_run, _settings(), prompter=prompter, at_exit=session.close)
    app.run()
    if app.failure is not None:  # a bad run id or host: said on stderr, exit non-zero
        raise CliError(*app.failure)
    return 0 if app.return_code in (None, 0) else int(app.return_code)


def cmd_keys(a: argparse.Namespace) -> int:
    from .tui.keys import key_rows

    settings = _settings()
    rows = key_rows(settings.keys)
    if a.json:
        emit_json([vars(r) for r in rows])
        return 0
    print(f"{'binding id':24} {'keys':14} {'where':16} action")
    for r in rows:
        print(f"{r.id:24} {r.keys:14} {r.where:16} {r.description}")
    where = settings.path or "settings.toml in the config directory"
    print(f'\nremap: add `"<binding id>" = "<key>"` under [keys] in {where}')
    return 0


def _settings() -> Any:
    from .config.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        raise CliError(str(exc), "fix or remove the file") from None


def run_hosts_console() -> int:
    """Plain ``rdt-tui``: the console on the hosts screen."""
    hosts_console_app().run()
    return 0


def hosts_console_app() -> Any:
    """The hosts console as ``rdt-tui`` opens it: every screen's clients share one SSH
    session, whose passwords and codes are asked in the console's modal."""
    from .config.hosts import HostsError
    from .tui.app import make_console_app

    try:
        rows = host_rows()
    except HostsError as exc:
        raise CliError(str(exc), "fix that line, then run `rdt-tui` again") from None
    prompter, session = console_session()
    return make_console_app(
        rows,
        lambda name: make_client(name, 0, reconnect=True, session=session),
        _settings(),
        host_actions(session),
        prompter=prompter,
        at_exit=session.close,
    )


def host_rows() -> list[Any]:
    from .config.hosts import HostBook
    from .tui.hosts_screen import HostRow

    rows = [HostRow("localhost", "this machine (no SSH)", "")]
    for e in HostBook.load().entries.values():
        user = f"{e.user}@" if e.user else ""
        rows.append(HostRow(e.name, f"{user}{e.hostname}:{e.port}", " -> ".join(e.jump)))
    return rows


def host_actions(session: Any = None) -> Any:
    """The hosts screen's add/edit/trust, on the user's hosts file and known_hosts; a jump
    is logged into through ``session`` (the console's), so trusting asks what it asks once."""
    from .config.hosts import HostBook, save_host, user_hosts_file
    from .transport.trust import trust_chain
    from .tui.hosts_screen import AskTrust, HostActions

    def values(name: str) -> dict[str, Any]:
        entry = HostBook.load().get(name)
        doc = entry.to_json()
        doc["identity_file"] = entry.identity_files[0] if entry.identity_files else ""
        return doc

    async def trust(name: str, ask: AskTrust) -> list[tuple[str, str, str]]:
        results = await trust_chain(
            HostBook.load().chain(name), lambda hop, fp: ask(hop.label, fp), session=session
        )
        return [(hop.label, fp, outcome) for hop, fp, outcome in results]

    return HostActions(
        rows=host_rows,
        values=values,
        save=lambda fields, replaces: save_host(user_hosts_file(), fields, replaces),
        trust=trust,
    )


# ----- parser -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rdt-tui",
        description="Train robot-learning models on remote GPU nodes. Without a command, "
        "opens the console on the hosts screen. HOST `localhost` means this machine, "
        "without SSH.",
    )
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    def add(
        name: str,
        fn: Callable[..., Awaitable[int]],
        help_: str,
        run: bool = True,
        json_: bool = True,
    ) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("host", metavar="HOST")
        if run:
            sp.add_argument("run", metavar="RUN", help="run id (see `rdt-tui runs HOST`)")
        if json_:
            sp.add_argument("--json", action="store_true", help="print one JSON document")
        sp.add_argument(
            "--simulate-gpus",
            type=int,
            default=0,
            metavar="N",
            help="serve N SIMULATED GPUs (restarts an agent daemon without live runs if it "
            "differs)",
        )
        sp.set_defaults(fn=fn)
        return sp

    sp = add("launch", cmd_launch, "launch a command or a profile as a supervised run", run=False)
    sp.add_argument("--profile", help="profile name (configs/runs/NAME.toml) or path")
    sp.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="a launch-form value for the profile's placeholders, e.g. processes=4",
    )
    sp.add_argument(
        "--resume",
        metavar="CHECKPOINT",
        help="continue from this checkpoint with the profile's resume_args",
    )
    sp.add_argument("--cwd", help="working directory on the host")
    sp.add_argument("--name", help="a name for the run (used in its id)")
    sp.add_argument("--gpus", help="GPU indices the run uses, e.g. 0,1")
    sp.add_argument("--env", action="append", metavar="NAME=VALUE", help="environment variable")
    sp.add_argument(
        "--log-file",
        action="append",
        metavar="GLOB",
        help="another log to parse for metrics (relative to --cwd)",
    )
    sp.add_argument(
        "--event-files",
        action="append",
        metavar="GLOB",
        help="TensorBoard event files to read metrics from, e.g. 'logs/**/events.out.tfevents.*'",
    )
    sp.add_argument(
        "--metric-source",
        choices=("events", "log"),
        help="which source feeds a name both give (default: events)",
    )
    sp.add_argument("--checkpoint-dir", help="where the run writes checkpoints (default: cwd)")
    sp.add_argument("--force", action="store_true", help="launch even onto GPUs a live run uses")
    sp.set_defaults(command=[])
    sp.epilog = "The command comes last, after `--`: rdt-tui launch HOST [options] -- CMD ARGS..."
    add("runs", cmd_runs, "list the runs on a host", run=False)
    add("status", cmd_status, "show one run's status")
    from .cli_slurm import cmd_queue

    add("queue", cmd_queue, "your jobs in the host's Slurm queue, rdt-tui's runs named", run=False)
    sp = add("logs", cmd_logs, "print a run's log", json_=False)
    sp.add_argument(
        "--tail", type=int, default=50, metavar="N", help="last N lines (default 50; 0: none)"
    )
    sp.add_argument("--all", action="store_true", help="the whole log, from its first byte")
    sp.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends")
    sp = add(
        "metrics",
        cmd_metrics,
        "print a run's metric points (from its log or TensorBoard event files: the last column)",
    )
    sp.add_argument("--name", action="append", help="only this metric (repeatable)")
    from .cli_metrics import add_arguments as add_metrics_arguments

    add_metrics_arguments(sp)
    sp = add("stop", cmd_stop, "stop a run: SIGINT, grace, SIGTERM, then SIGKILL")
    sp.add_argument(
        "--grace",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="time between the first signal and SIGTERM (default 30)",
    )
    sp.add_argument("--signal", help="first signal (default the run's, SIGINT)")
    add("checkpoints", cmd_checkpoints, "list a run's checkpoints and free disk")
    add(
        "watch",
        cmd_status,
        "open the console's dashboard on a run (q quits, the run goes on)",
        json_=False,
    )
    add("gpus", cmd_gpus, "show the host's GPUs (or CPU and memory without a driver)", run=False)
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
    sp.add_argument("--checkpoint-every", type=int, default=100)
    sp.add_argument("--simulate-gpus", type=int, default=0, help=argparse.SUPPRESS)
    sp.set_defaults(fn=cmd_demo, host="localhost")
    from .cli_adopt import add_parsers as add_adopt_parsers

    sp = sub.add_parser(
        "keys",
        help="list the console's keys by binding id (remap them in settings.toml [keys])",
        description="Every key of the console: its binding id, the keys it has now (after "
        "[keys] in settings.toml), what it does and where. Remap with lines such as "
        '`"dashboard.stop" = "x"` under [keys].',
        epilog="example: rdt-tui keys --json",
    )
    sp.add_argument("--json", action="store_true", help="print one JSON document")
    sp.set_defaults(sync_fn=cmd_keys)
    from .cli_alerts import add_parsers as add_alert_parsers
    from .cli_group import add_parsers as add_group_parsers
    from .cli_preflight import add_parsers as add_preflight_parsers
    from .cli_ssh import add_parsers

    add_parsers(sub, add)
    add_preflight_parsers(add)
    add_group_parsers(sub)
    add_alert_parsers(add)
    add_adopt_parsers(add)
    from .cli_examples import add_examples

    add_examples(sub)
    return p


async def _run(a: argparse.Namespace) -> int:
    # Kept across a reconnect (`logs -f`): a dropped node channel does not ask for the jump's
    # code again while the jump's connection lives.
    session = cli_session(LINGER_S)
    try:
        client = make_client(a.host, a.simulate_gpus, reconnect=True, session=session)
        try:
            await client.connect()
        except (AgentCallError, OSError) as exc:
            raise CliError(f"cannot reach the agent on {a.host}: {exc}") from None
        served = int(client.info.get("simulated_gpus") or 0)
        if served != a.simulate_gpus:
            # attach keeps a daemon that watches live runs rather than replace it for this
            print(
                f"rdt-tui: note: the agent on {a.host} has live runs and keeps its setting: "
                + (f"{served} SIMULATED GPUs" if served else "real GPUs")
                + f", not --simulate-gpus {a.simulate_gpus}",
                file=sys.stderr,
            )
        try:
            return int(await a.fn(client, a))
        finally:
            await client.close()
    finally:
        session.close()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` is the job's argv, untouched (argparse would eat its options).
    command: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1 :]
    a = parser.parse_args(argv)
    if command:
        if a.cmd != "launch":
            parser.error("only `launch` takes a command after --")
        a.command = command
    if not a.cmd:
        try:
            return run_hosts_console()
        except CliError as exc:
            _fail(exc.message, exc.hint)
            return 1
    try:
        if (a.cmd == "demo" and not a.headless) or a.cmd == "watch":
            return run_console(a)
        if getattr(a, "sync_fn", None):
            return int(a.sync_fn(a))
        return asyncio.run(_run(a))
    except CliError as exc:
        _fail(exc.message, exc.hint)
    except AgentCallError as exc:
        _fail(exc.message, exc.hint)
    except TransportError as exc:
        _fail(f"{exc.title}: {exc.message}", exc.hint)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return 1


def _fail(message: str, hint: str = "") -> None:
    print(f"rdt-tui: error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


if __name__ == "__main__":
    # `python -m rdt_tui.cli` runs this file as __main__; the subcommand modules import
    # `rdt_tui.cli`, a second copy with its own CliError. Run that copy's main, so an error
    # they raise is the one caught here.
    from rdt_tui.cli import main as package_main

    raise SystemExit(package_main())
