"""The dashboard's idle-GPU alert names whose GPUs it judged, as the agent's alert does: a Slurm
job's nodes, or this host of a job that runs on several (the dashboard sees its GPUs alone). A
single-host run's message is as it was. The dashboard alone, fed scripted samples: the real
simulated GPUs never idle, and the rule needs a minute of idle samples."""

from __future__ import annotations

from typing import Any

import pytest

from rdt_tui.client import Subscription
from rdt_tui.client.group import GroupReport
from rdt_tui.protocol.messages import Event, GpuEvent, GpuSample, RunSummary, StatusEvent
from rdt_tui.tui.app import make_app
from rdt_tui.tui.messages import GroupContext
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.widgets.status_bar import StatusBar

from .fakes import SAMPLE_GPUS, FakeClient, FakeSubscription
from .test_tui_dashboard import until

RUN = "rdt-finetune-1"


class IdleClient(FakeClient):
    """A running run whose GPUs sit at 0 % for 70 s of samples."""

    def __init__(self, host: str, status: RunSummary, sample: GpuSample) -> None:
        super().__init__(host)
        self.status_data = status
        self.sample = sample

    async def subscribe(
        self, run: str | None, since: dict[str, int] | None = None, gpu: bool | None = None
    ) -> Subscription:
        status = StatusEvent(event="status", run=run, seq=0, sub="f", data=self.status_data)
        events: list[Event] = [status]
        for t in range(71):
            sample: GpuSample = {**self.sample, "t": float(t)}
            sample["gpus"] = [{**g, "util": 0} for g in self.sample["gpus"]]
            events.append(GpuEvent(event="gpu", run=run, seq=t + 1, sub="f", data=sample))
        return FakeSubscription(events)


async def idle_alert(client: FakeClient, group: GroupContext | None = None) -> str:
    async def open_run() -> tuple[Any, str]:
        return client, RUN

    app = make_app(open_run)
    async with app.run_test(size=(120, 40)):
        await until(lambda: isinstance(app.screen, DashboardScreen))
        if group is not None:  # as the console opens a multi-node job's dashboard
            await app.push_screen(DashboardScreen(client, RUN, group))
        bar = app.screen.query_one(StatusBar)
        await until(lambda: "idle" in bar.alert)
        return bar.alert


@pytest.mark.asyncio
async def test_a_slurm_runs_idle_alert_names_the_jobs_nodes() -> None:
    sample: GpuSample = {**SAMPLE_GPUS, "job": "42", "nodes": ["n1", "n2"]}
    sample["gpus"] = [
        {**g, "index": i, "node": node, "node_index": 0}
        for i, (g, node) in enumerate(zip(SAMPLE_GPUS["gpus"], ("n1", "n2"), strict=True))
    ]
    status: RunSummary = {"id": RUN, "status": "running", "slurm_job_id": "42"}
    alert = await idle_alert(IdleClient("login", status, sample))
    assert alert == "all GPUs on n1,n2 idle for 60 s while the run is alive"


@pytest.mark.asyncio
async def test_a_multi_host_runs_idle_alert_names_this_host() -> None:
    status: RunSummary = {"id": RUN, "status": "running"}
    client = IdleClient("node-b", status, SAMPLE_GPUS)
    other = IdleClient("node-a", status, SAMPLE_GPUS)
    group = GroupContext({"node-a": other, "node-b": client}, GroupReport("g", {"node-a": RUN}))
    alert = await idle_alert(client, group)
    assert alert == "all GPUs on node-b idle for 60 s while the run is alive"


@pytest.mark.asyncio
async def test_a_single_host_runs_idle_alert_is_as_it_was() -> None:
    status: RunSummary = {"id": RUN, "status": "running"}
    alert = await idle_alert(IdleClient("gpu-a", status, SAMPLE_GPUS))
    assert alert == "all GPUs idle for 60 s while the run is alive"
