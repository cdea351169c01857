"""The launch form: the fields a user edits most, the effective batch, and the exact command
line, all before anything runs. `l` launches after a `y`."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Select, Static

from ...client import AgentClient
from ...core.batch import effective_batch
from ...core.units import human_duration
from ...launch.plan import LaunchPlan, command_line
from ..confirm import Confirm
from ..errors import notify_error
from ..guard import guarded
from ..messages import Connect, GroupContext, OpenDashboard
from ..slurm_view import launch_text

PRECISIONS = ("no", "bf16", "fp16")


class LaunchScreen(Screen[None]):
    BINDINGS = [Binding("l", "launch", "Launch", id="launch.launch")]
    # No field focused at first: keys are bindings (`l`) until the user tabs into a field.
    AUTO_FOCUS = ""
    NUMBERS = (
        ("processes", "Processes (GPUs)"),
        ("per_gpu_batch", "Per-GPU batch"),
        ("grad_accum", "Gradient accumulation"),
        ("max_steps", "Max steps"),
    )

    def __init__(
        self, client: AgentClient, plan: LaunchPlan, connect: Connect | None = None
    ) -> None:
        super().__init__()
        self.client = client
        self.plan = plan
        self.connect = connect  # the other hosts of a multi-host profile (None: none reachable)
        self.values = dict(plan.values)
        self.args: dict[str, Any] | None = None
        self.rate: tuple[float, str] | None = None  # (steps/s, run it was measured on)
        self.output_warning = ""  # the output folder holds another run's checkpoints

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                f"Launch {self.plan.title} on {self.client.host}: Tab into a field to "
                "edit it, Enter to finish, then `l`"
            )
            with Grid():
                yield Label("GPUs (ids, empty: any)")
                yield Input(
                    ",".join(str(g) for g in self.values.get("gpus") or []),
                    placeholder="0,1,2,3",
                    id="gpus",
                    compact=True,
                    restrict=r"[0-9, ]*",
                )
                for key, label in self.NUMBERS:
                    if key in self.plan.fields:
                        yield Label(label)
                        yield Input(str(self.values[key]), id=key, type="integer", compact=True)
                if "mixed_precision" in self.plan.fields:
                    yield Label("Mixed precision")
                    yield Select(
                        [(p, p) for p in PRECISIONS],
                        value=self.values["mixed_precision"],
                        allow_blank=False,
                        id="mixed_precision",
                        compact=True,
                    )
            yield Static(id="summary", markup=False)
            yield Static(id="command", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_preview()
        if self.plan.profile is not None:
            self.measure_rate()
            self.check_output()

    @work(exclusive=True, group="output")
    @guarded("Checking the output folder")
    async def check_output(self) -> None:
        """Whether the output folder holds another run's checkpoints (the agent's preflight
        facts for that folder alone: no interpreter packages, no hub)."""
        assert self.plan.profile is not None
        params = self.plan.profile.preflight_params(self.values)
        folder = str(params.get("output_dir") or "")
        if not folder or "{run_id}" in folder:
            return  # none, or a folder of each run's own
        args = self.plan.profile.launch_args(self.values)
        ask = {
            "output_dir": folder,
            "checkpoint_globs": params.get("checkpoint_globs") or [],
            "packages": [],
            "hub": False,
        }
        try:
            facts = await self.client.preflight(ask, args.get("cwd"), {}, timeout=30)
        except Exception:
            return  # a hint only: the form works without it (preflight says it again)
        out = facts.get("output") or {}
        owners = out.get("owners") or []
        if owners:
            self.output_warning = (
                f"! {out.get('path')} holds checkpoints of run {owners[-1]}: this run would "
                "prune them and list them as its own (unless it resumes from them)"
            )
            self.refresh_preview()

    @work(exclusive=True, group="rate")
    @guarded("Estimating the run's time")
    async def measure_rate(self) -> None:
        """Steps per second of the newest earlier run of this profile on this host (its
        first and last metric points), for the ETA; nothing when there is none."""
        assert self.plan.profile is not None
        mine = self.plan.profile.path or self.plan.profile.name
        try:
            runs = [r for r in await self.client.runs() if r.get("profile") == mine]
            for run in sorted(runs, key=lambda r: r.get("started_at") or 0, reverse=True):
                # Not seq 1 alone: a repainted step's point leaves its seq for a later one.
                first = (await self.client.metrics(run["id"], 0, 100))["points"][:1]
                status = await self.client.status(run["id"], progress=True)
                seq = int(status.get("metrics_seq") or 0)
                last = (await self.client.metrics(run["id"], max(0, seq - 1), 1))["points"]
                t0, t1 = first[0]["t"] if first else None, last[0]["t"] if last else None
                if t0 is not None and t1 is not None and t1 > t0 and last[0]["step"]:
                    steps = int(last[0]["step"]) - int(first[0]["step"] or 0)
                    rate = steps / (t1 - t0)
                    if rate > 0:
                        self.rate = (rate, str(run["id"]))
                        self.refresh_preview()
                        return
        except Exception:
            return  # an estimate only: the form works without it

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.set_focus(None)  # Enter ends the edit, so `l` launches again

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "gpus":
            self.values["gpus"] = [g for g in event.value.replace(" ", ",").split(",") if g]
            self.refresh_preview()
            return
        try:
            self.values[str(event.input.id)] = int(event.value)
        except ValueError:
            self.values[str(event.input.id)] = 0
        self.refresh_preview()

    def on_select_changed(self, event: Select.Changed) -> None:
        self.values["mixed_precision"] = str(event.value)
        self.refresh_preview()

    def refresh_preview(self) -> None:
        v = self.values
        problems = [
            f"{label} must be at least 1"
            for key, label in self.NUMBERS
            if key in self.plan.fields and int(v[key]) < 1
        ]
        if v.get("gpus") and "processes" in self.plan.fields and len(v["gpus"]) < v["processes"]:
            problems.append(f"{v['processes']} processes need as many GPUs")
        if {"processes", "per_gpu_batch"} <= set(self.plan.fields):
            accum = int(v["grad_accum"]) if "grad_accum" in self.plan.fields else 1
            total = effective_batch(int(v["processes"]), int(v["per_gpu_batch"]), accum)
            summary = (
                f"effective batch = {v['processes']} processes x {v['per_gpu_batch']} "
                f"per GPU x {accum} accumulation = {total}"
            )
        else:
            summary = "this profile's command has no batch placeholders: it runs as written"
        if "max_steps" in self.plan.fields and self.rate is not None:
            rate, run = self.rate
            eta = human_duration(int(v["max_steps"]) / rate)
            summary += f"\nETA {eta} at {rate:.2f} steps/s (measured on {run})"
        elif self.plan.profile is not None:
            summary += "\nETA: measured once it runs (no earlier run of this profile here)"
        if self.output_warning:
            summary += "\n" + self.output_warning
        if problems:
            summary += f"\n! fix: {'; '.join(problems)}"
            self.args = None
        else:
            self.args = self.plan.build(dict(v))
        self.query_one("#summary", Static).update(summary)
        preview = (
            launch_text(self.args, command_line(self.args))
            if self.args
            else "(fix the fields above)"
        )
        if self.args and self.plan.hosts:
            preview = (
                f"on {', '.join(self.plan.hosts)} (one rank group each, rank 0 first; "
                f"this is rank 0's command):\n{preview}"
            )
        self.query_one("#command", Static).update(preview)

    def action_launch(self) -> None:
        if self.args is None:
            self.notify("fix the fields first", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.launch()

        where = ", ".join(self.plan.hosts) or self.client.host
        text = launch_text(self.args, command_line(self.args))
        self.app.push_screen(Confirm(f"Launch on {where}?\n\n{text}"), answered)

    @work(exclusive=True, group="launch")
    @guarded("Launching")
    async def launch(self) -> None:
        assert self.args is not None
        if self.plan.hosts:
            await self.launch_group()
            return
        try:
            run = await self.client.launch_args(self.args)
        except Exception as exc:  # the agent's refusal (GPUs busy, bad cwd) is shown as is
            notify_error(self, exc)
            return
        for warning in run.get("warnings") or []:  # a Slurm job's program not on the login node
            self.app.notify(warning, severity="warning", timeout=20)
        self.post_message(OpenDashboard(self.client, run["id"], replace=True))

    async def launch_group(self) -> None:
        """One rank group per host of the profile, through each host's agent."""
        from ...client.group import launch_group

        assert self.plan.profile is not None
        connect = self.connect
        try:
            if connect is None:
                raise RuntimeError("this console cannot reach other hosts")
            clients = {h: await connect(h) for h in self.plan.hosts}
            report = await launch_group(clients, self.plan.profile, dict(self.values))
        except Exception as exc:  # a host down or refusing: nothing is left running
            notify_error(self, exc)
            return
        first = self.plan.hosts[0]
        group = GroupContext(clients, report, self.plan.profile.stop_together)
        self.post_message(OpenDashboard(clients[first], report.runs[first], group, replace=True))
