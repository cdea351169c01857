"""The alerts the dashboard raises from what it sees: a non-finite or spiking loss, GPUs idle
while the run is alive, a disk that the next checkpoint will not fit. Each kind notifies once
(the status bar shows the latest); the rules themselves live in ``core/alerts.py``."""

from __future__ import annotations

import time

from textual import work

from ...core.alerts import (
    IdleWatch,
    SpikeDetector,
    checkpoint_does_not_fit,
    nonfinite_label,
    seconds_until_full,
)
from ...core.units import human_duration, human_size
from ...protocol.messages import GpuSample, MetricColumn
from ..guard import guarded
from ..messages import GroupContext
from ..widgets.checkpoint_table import CheckpointTable
from ..widgets.gpu_pane import GpuPane
from ..widgets.status_bar import StatusBar
from .live_status import LiveStatus

DISK_RATE_WINDOW_S = 600.0
SPIKE_QUIET_S = 60.0


class RunAlerts(LiveStatus):
    """Mixed into the dashboard, which sets these attributes in its ``__init__``."""

    run_id: str
    spikes: SpikeDetector
    idle: IdleWatch
    group: GroupContext | None
    _last_spike_alert: float
    _raised: set[str]
    disk_samples: list[tuple[float, float]]

    def _check_loss(self, loss: MetricColumn | None) -> None:
        if loss is None:
            return
        for step, value in zip(loss["step"], loss["value"], strict=True):
            label = nonfinite_label(value)
            if label:
                self._alert(f"{label} loss (at step {step})", "nonfinite")
            elif self.spikes.feed(value) and time.monotonic() - self._last_spike_alert > (
                SPIKE_QUIET_S
            ):
                self._last_spike_alert = time.monotonic()
                self._alert(f"loss spike at step {step}: {value:.4g}", f"spike:{step}")

    def _check_idle(self, sample: GpuSample) -> None:
        if self.query_one(StatusBar).state != "running" or not sample.get("gpus"):
            return
        utils = [g.get("util") for g in self.query_one(GpuPane).run_gpus(sample)]
        if self.idle.feed(float(sample.get("t") or 0.0), utils):
            nodes = self._idle_nodes(sample)
            where = " on " + ",".join(nodes) if nodes else ""
            self._alert(
                f"all GPUs{where} idle for {self.idle.after_s:.0f} s while the run is alive",
                "idle",
            )
        else:
            self._raised.discard("idle")

    def _idle_nodes(self, sample: GpuSample) -> list[str]:
        """Whose GPUs the idle rule judged, as the agent's own alert names them: a Slurm
        job's nodes (its sampler step's sample says them); for a job over several hosts,
        this host (the dashboard sees its GPUs alone); none for a single-host run."""
        if sample.get("nodes"):
            return [str(n) for n in sample.get("nodes") or []]
        return [self.client.host] if self.group is not None else []

    @work(exclusive=True, group="disk")
    @guarded("Checking the disk")
    async def poll_disk(self) -> None:
        """Free disk where the checkpoints go, how fast it shrinks, and whether the next
        checkpoint fits."""
        try:
            found = await self.client.checkpoints(self.run_id)
        except Exception:
            return  # the link state and the follow worker already tell the user
        free = (found.get("disk") or {}).get("free")
        if free is None:
            return
        now = time.time()
        self.disk_samples.append((now, float(free)))
        self.disk_samples = [s for s in self.disk_samples if now - s[0] <= DISK_RATE_WINDOW_S]
        full_in = seconds_until_full(self.disk_samples)
        table = self.query_one(CheckpointTable)
        table.border_subtitle = f"free {human_size(free, compact=True)}" + (
            f", full in {human_duration(full_in)}" if full_in is not None else ""
        )
        sizes = [c["size"] for c in found.get("checkpoints") or [] if c.get("size")]
        if checkpoint_does_not_fit(sizes, free):
            self._alert(
                f"disk filling: the next checkpoint (~{human_size(sizes[-1], compact=True)}) "
                f"does not fit in {human_size(free, compact=True)} free",
                "disk",
            )

    def _alert(self, what: str, kind: str) -> None:
        """Show ``what`` in the status bar; notify once per kind of alert."""
        bar = self.query_one(StatusBar)
        bar.alert = what
        bar.refresh_text()
        if kind not in self._raised:
            self._raised.add(kind)
            self.notify(what, severity="error", timeout=15)
            self.post_message(self.Alerted(kind, f"{self.run_id}: {what}"))
