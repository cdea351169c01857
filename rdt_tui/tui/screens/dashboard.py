"""The dashboard of one run: status, metric chart, GPUs (or CPU), log tail, checkpoints.

One worker follows the run's subscription and hands each event to the widget that shows
it; the subscription resumes by itself after a dropped link, so the screen only shows the
link state.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer

from ...client import AgentClient
from ...client.group import watch_group
from ...core.alerts import (
    IdleWatch,
    SpikeDetector,
    ended_text,
    log_alert,
)
from ...core.metrics import bar_progress
from ...protocol.messages import ENDED_STATES, Event, RunSummary
from ...protocol.wire import last_step
from ..confirm import Confirm
from ..errors import error_title
from ..guard import guarded
from ..guard import report as report_error
from ..messages import Detached, GroupContext, OpenCluster, OpenResume
from ..slurm_view import gpu_text, waiting_text
from ..widgets.checkpoint_table import CheckpointTable
from ..widgets.gpu_pane import GpuPane
from ..widgets.log_pane import LogPane, log_source
from ..widgets.loss_chart import LossChart
from ..widgets.status_bar import StatusBar
from .run_alerts import RunAlerts

CHART_SEED_POINTS = 2000  # per series, from the history op when the dashboard opens
DISK_POLL_S = 30.0


class DashboardScreen(RunAlerts, Screen[None]):
    BINDINGS = [
        Binding("s", "stop", "Stop", id="dashboard.stop"),
        Binding("d", "detach", "Detach", id="dashboard.detach"),
        Binding("m", "next_metric", "Metric", id="dashboard.metric"),
        Binding("g", "log_scale", "Log y", show=False, id="dashboard.log"),
        Binding("e", "smoothing", "Smooth", show=False, id="dashboard.smoothing"),
        Binding("w", "loss_window", "Loss window", show=False, id="dashboard.window"),
        Binding("t", "gpu_window", "GPU window", show=False, id="dashboard.gpu_window"),
        Binding("r", "resume", "Resume", id="dashboard.resume"),
        Binding("c", "cluster", "Cluster", id="dashboard.cluster"),
        Binding("slash", "search", "Search", id="dashboard.search"),
        Binding("n", "next_match", "Next match", show=False, id="log.next"),
        Binding("N", "previous_match", "Previous match", show=False, id="log.previous"),
        Binding("W", "wrap", "Wrap", show=False, id="log.wrap"),
        Binding("x", "errors", "Errors", show=False, id="log.errors"),
        Binding("escape", "clear_search", "Close search", show=False, id="dashboard.clear"),
    ]

    def __init__(self, client: AgentClient, run_id: str, group: GroupContext | None = None) -> None:
        super().__init__()
        self.client = client
        self.run_id = run_id
        self.group = group
        self.final: RunSummary | None = None
        self.spikes = SpikeDetector()
        self.idle = IdleWatch()
        self._last_spike_alert = 0.0
        self._raised: set[str] = set()  # alert kinds already notified (the bar shows the last)
        self.stop_asked = False  # the user asked this console to stop the run
        self.slurm = False  # a Slurm run: `c` shows its job's nodes' GPUs
        self.disk_samples: list[tuple[float, float]] = []

    def compose(self) -> ComposeResult:
        yield StatusBar(self.run_id)
        with Vertical():
            with Horizontal(id="top"):
                yield LossChart()
                yield GpuPane()
            with Horizontal(id="bottom"):
                yield LogPane(id="log-pane")
                yield CheckpointTable()
        yield Footer()

    def on_mount(self) -> None:
        self.client.on_state(self._link_changed)
        self.query_one(StatusBar).link = self.client.state
        # After the first refresh: every nested widget of compose() is mounted by then.
        self.call_after_refresh(self.follow)
        self.set_interval(DISK_POLL_S, self.poll_disk)
        if self.group is not None:
            self.call_after_refresh(self.follow_group)
        self.call_after_refresh(self.poll_disk)
        self.set_interval(1.0, self.tick)
        self.call_after_refresh(self.on_resize)

    def on_unmount(self) -> None:
        self.client.off_state(self._link_changed)

    def _link_changed(self, state: str) -> None:
        bar = self.query_one(StatusBar)
        bar.link = state
        bar.refresh_text()
        if state == "reconnecting":
            self.notify(f"Lost the link to {self.client.host}; reconnecting", severity="warning")
        elif state == "connected":
            self.notify(f"Back on {self.client.host}")

    @work(exclusive=True, group="follow")
    @guarded("Following the run")
    async def follow(self) -> None:
        try:
            await self._follow()
        except NoMatches:
            pass  # the screen is being taken down: nothing left to show events on
        except Exception as exc:  # a vanished run, a lost host: say so, keep the console
            self._alert(f"{error_title(exc, 'cannot follow the run')}: {exc}", "follow")
            hint = getattr(exc, "hint", "")
            if hint:
                self.notify(hint, severity="warning", timeout=30)

    async def _follow(self) -> None:
        log = self.query_one(LogPane)
        # The live text starts at the log's last page; older pages are read on demand.
        start = await log.open(log_source(self.client, self.run_id))
        bar = self.query_one(StatusBar)
        chart = self.query_one(LossChart)
        # The chart starts from a downsampled view (the agent's per-block summaries), then
        # follows from its last seq: a run of 10 million points is never streamed whole.
        hist = await self.client.history(self.run_id, points=CHART_SEED_POINTS)
        seeded = chart.seed(hist)
        loss = seeded.get("loss")
        if loss is not None:  # a min/max view: only its NaN/Inf are news, not its "spikes"
            odd = [i for i, v in enumerate(loss["value"]) if not math.isfinite(v)]
            self._check_loss(
                {
                    "seq": [loss["seq"][i] for i in odd],
                    "step": [loss["step"][i] for i in odd],
                    "value": [loss["value"][i] for i in odd],
                    "t": [loss["t"][i] for i in odd],
                    "source": loss["source"],
                }
            )
        stepped = [
            (step, t or 0.0)
            for col in seeded.values()
            for step, t in zip(col["step"], col["t"], strict=True)
            if step is not None
        ]
        if stepped:  # where the run is, before any new point comes (an ended run sends none)
            bar.set_step(*max(stepped))
        since = {"log": start, "metric": int(hist.get("last_seq") or 0)}
        sub = await self.client.subscribe(self.run_id, since=since, gpu=True)
        gpus = self.query_one(GpuPane)
        slurm_job: RunSummary | None = None  # a Slurm run's last status
        async for ev in sub:
            bar.heard()
            if ev["event"] == "metric":
                series = ev["data"]["series"]  # columns per metric name
                chart.add(series)
                last = last_step(series)
                if last is not None:
                    bar.set_step(*last)
                self._check_loss(series.get("loss"))
            elif ev["event"] == "log":
                text = ev["data"]["text"]
                log.feed(ev["data"]["offset"], text)
                progress = bar_progress(text)
                if progress:
                    bar.total = progress[1]
                hit = log_alert(text, self.stop_asked)
                if hit:
                    self._alert(f"{hit} in the log", f"log:{hit}")
            elif ev["event"] == "gpu" and slurm_job and not ev["data"].get("job"):
                gpus.update(gpu_text(slurm_job))  # the login node's GPUs are not the job's
            elif ev["event"] == "gpu":
                gpus.show(ev["data"], self.run_id)
                self._check_idle(ev["data"])
            elif ev["event"] == "checkpoint":
                self.query_one(CheckpointTable).apply(ev["data"])
            elif ev["event"] == "status":
                data = ev["data"]
                slurm_job = data if data.get("slurm_job_id") else None
                self.slurm = slurm_job is not None
                if slurm_job and not (gpus.last or {}).get("job"):  # no sample of its nodes yet
                    gpus.update(gpu_text(slurm_job))
                bar.state = waiting_text(data) or str(data.get("status"))
                bar.refresh_text()
                if data.get("complete"):
                    self.final = data
                    text, bad = ended_text(data)
                    if data.get("status") == "stopped" and bar.alert.endswith(" in the log"):
                        # A stop asked elsewhere: the traceback it made the job print is
                        # not news (a NaN or disk alert stays).
                        bar.alert = ""
                        bar.refresh_text()
                    self.notify(
                        f"Run {self.run_id} {text}",
                        severity="error" if bad else "information",
                        timeout=30,
                    )
                    self.post_message(self.Alerted("ended", f"run {self.run_id} {text}"))

    def action_search(self) -> None:
        self.query_one(LogPane).start_search()

    def action_next_match(self) -> None:
        self.query_one(LogPane).next_match(reverse=False)

    def action_previous_match(self) -> None:
        self.query_one(LogPane).next_match(reverse=True)

    def action_wrap(self) -> None:
        self.query_one(LogPane).view.toggle_wrap()

    def action_errors(self) -> None:
        self.query_one(LogPane).toggle_errors()

    def action_clear_search(self) -> None:
        self.query_one(LogPane).close_search()

    def action_next_metric(self) -> None:
        self.query_one(LossChart).cycle_metric()

    def action_log_scale(self) -> None:
        self.query_one(LossChart).toggle_log()

    def action_smoothing(self) -> None:
        self.query_one(LossChart).cycle_smoothing()

    def action_loss_window(self) -> None:
        self.query_one(LossChart).cycle_window()

    def action_gpu_window(self) -> None:
        self.query_one(GpuPane).cycle_window()

    @work(exclusive=True, group="group")
    @guarded("Following the job's other nodes")
    async def follow_group(self) -> None:
        """The other hosts' ranks: their points join the chart, and when one node's group
        dies the others are stopped and the status bar says which died first and why."""
        group = self.group
        assert group is not None
        chart = self.query_one(LossChart)

        def on_event(host: str, ev: Event) -> None:
            if ev["event"] == "metric" and group.report.runs.get(host) != self.run_id:
                chart.add(ev["data"]["series"])

        try:
            report = await watch_group(group.clients, group.report, group.stop_together, on_event)
        except Exception as exc:  # a lost host: the link alerts say the rest
            self._alert(f"group: {exc}", "group")
            return
        if report.stopped_by_user and not report.first_dead:
            self.notify(f"group {report.group}: {report.summary().splitlines()[-1]}", timeout=30)
        elif report.first_dead:
            final: Mapping[str, Any] = report.final.get(report.first_dead) or {}
            stopped = ", ".join(report.stopped) or "none"
            self._alert(
                f"{report.first_dead} died first ({final.get('status')}, exit code "
                f"{final.get('exit_code')}); stopped: {stopped}",
                "group",
            )
        else:
            self.notify(f"group {report.group}: every node's run ended", timeout=30)

    def action_cluster(self) -> None:
        """Every GPU of the job's hosts (this host alone for a single-node run; for a Slurm
        run, the GPUs of its job's nodes, not the login node's)."""
        clients = self.group.clients if self.group else {self.client.host: self.client}

        async def connect(host: str) -> AgentClient:
            return clients[host]

        runs = {self.client.host: self.run_id} if self.slurm and not self.group else None
        self.post_message(OpenCluster(list(clients), connect, runs))

    def action_resume(self) -> None:
        """Relaunch from the highlighted checkpoint with the run's profile: the launch form
        shows the exact command (the profile's resume arguments included) before a `y`."""
        table = self.query_one(CheckpointTable)
        if not table.row_count:
            self.notify("no checkpoint yet", severity="warning")
            return
        path = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        self.post_message(OpenResume(self.client, self.run_id, path))

    def action_detach(self) -> None:
        # The run keeps going under the node's agent; the app goes back to the runs (or
        # leaves, when the console was opened on this run alone).
        ended = self.final is not None or self.query_one(StatusBar).state in ENDED_STATES
        said = (
            f"Left {self.run_id} (it has ended)."
            if ended
            else f"Detached from {self.run_id}; it keeps running."
        )
        self.post_message(Detached(said))

    def action_stop(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.stop_run()

        self.app.push_screen(
            Confirm(f"Stop run {self.run_id}?\nSIGINT, then SIGTERM after 30 s, then SIGKILL."),
            answered,
        )

    @work(exclusive=True, group="stop")
    @guarded("Stopping the run")
    async def stop_run(self) -> None:
        self.stop_asked = True
        if self.group is not None:
            # A multi-node job stops as one: every host's rank, not this node's alone.
            group = self.group
            self.notify(f"Stopping {group.report.group} on {', '.join(group.report.runs)}...")
            # Each host answers for itself: one lost host does not hide the others' stops.
            results: list[Any] = await asyncio.gather(
                *(group.clients[h].stop(r, grace=30) for h, r in group.report.runs.items()),
                return_exceptions=True,
            )
        else:
            self.notify(f"Stopping {self.run_id}...")
            results = [await self.client.stop(self.run_id, grace=30)]
        for result in results:
            if isinstance(result, Exception):
                report_error(self, "Stopping a node's run", result)
            elif result.get("error"):
                self.notify(f"{result['id']}: {result['error']}", severity="error", timeout=60)
            else:
                self.notify(f"{result['id']}: {ended_text(result)[0]}")
