"""A fake AgentClient for the console's snapshot tests: scripted, deterministic events.

It is an AgentClient (no link behind it) whose operations answer with the same
``protocol.messages`` types, so mypy checks the fake's shapes against the real client's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from rdt_tui.client import AgentClient, Subscription
from rdt_tui.protocol.messages import (
    Alerts,
    Checkpoint,
    Checkpoints,
    Event,
    GpuEvent,
    GpuSample,
    GpuSamples,
    Hello,
    History,
    LogChunk,
    LogSearch,
    LogTail,
    MetricBatch,
    MetricColumn,
    NotifyState,
    RunSummary,
)
from rdt_tui.protocol.wire import decode_float
from rdt_tui.transport.base import Transport, TransportError

SAMPLE_GPUS: GpuSample = {
    "t": 0.0,
    "simulated": True,
    "backend": "simulated",
    "reason": "",
    "host": {
        "cpu_percent": 12.0,
        "cpus": 16,
        "load1": 1.0,
        "mem_used": 40 << 30,
        "mem_total": 128 << 30,
        "disk": {"path": "/", "free": 1 << 40, "total": 2 << 40},
    },
    "gpus": [
        {
            "index": i,
            "name": "SIMULATED GPU",
            "uuid": f"SIM-{i}",
            "util": 90 + i,
            "mem_used": (50 + i) << 30,
            "mem_total": 80 << 30,
            "power": 300.0 + i,
            "power_limit": 400.0,
            "temp": 60 + i,
            "sm_clock": 1410,
            "processes": [{"pid": 100 + i, "mem": 30 << 30, "run": "rdt-finetune-1"}],
        }
        for i in range(2)
    ],
}


def gpu_history(seconds: int = 120) -> list[GpuSample]:
    """A minute or two of samples; GPU 1 runs at half the utilisation of GPU 0 (it lags)."""
    out = []
    for t in range(seconds):
        sample: GpuSample = {**SAMPLE_GPUS, "t": float(t)}
        sample["gpus"] = [
            {**g, "util": int((90 - 45 * g["index"]) * (0.8 + 0.2 * ((t // 10) % 2)))}
            for g in SAMPLE_GPUS["gpus"]
        ]
        out.append(sample)
    return out


def metric_batch(points: Sequence[Mapping[str, Any]]) -> MetricBatch:
    """The data of a ``metric`` event as a subscription hands it on (columns per name), made
    from point dicts (``seq``, ``name``, ``value``, ``step``, ``t``) in seq order."""
    series: dict[str, MetricColumn] = {}
    for p in points:
        col = series.setdefault(
            str(p["name"]),
            {"seq": [], "step": [], "value": [], "t": [], "source": p.get("source") or "log"},
        )
        col["seq"].append(int(p["seq"]))
        col["step"].append(p.get("step"))
        col["value"].append(decode_float(p["value"]))
        col["t"].append(p.get("t"))
    return {"series": series, "count": len(points)}


def scripted_events(run: str) -> list[Event]:
    points = [
        {
            "seq": i,
            "name": "loss",
            "value": round(1.0 / (1 + i / 20), 4),
            "step": i,
            "t": 1000.0 + i,
        }
        for i in range(1, 301)
    ]
    log = "".join(
        f"Steps: {i // 3}%|##| {i}/900 [00:10<00:20, 9.9it/s, loss=0.1, lr=0.0001]\n"
        for i in range(290, 301)
    )
    ckpt: Checkpoint = {
        "path": "/w/checkpoint-200",
        "name": "checkpoint-200",
        "step": 200,
        "size": 3 << 30,
        "mtime": None,
        "is_dir": True,
        "notable": ["ema/model.safetensors"],
    }
    return [
        {"event": "metric", "run": run, "seq": 300, "sub": "fake", "data": metric_batch(points)},
        {
            "event": "log",
            "run": run,
            "seq": len(log),
            "sub": "fake",
            "data": {"offset": 0, "text": log},
        },
        *(
            GpuEvent(event="gpu", run=run, seq=i, sub="fake", data=sample)
            for i, sample in enumerate(gpu_history(), 1)
        ),
        {
            "event": "checkpoint",
            "run": run,
            "seq": 1,
            "sub": "fake",
            "data": {"kind": "added", "checkpoint": ckpt},
        },
        {
            "event": "status",
            "run": run,
            "seq": 0,
            "sub": "fake",
            "data": {"id": run, "status": "running"},
        },
    ]


async def _no_unsubscribe(sub: Subscription) -> None:
    pass


class FakeSubscription(Subscription):
    """Scripted events, then nothing more (a quiet run)."""

    def __init__(self, events: Sequence[Event]) -> None:
        super().__init__("fake", None, {}, _no_unsubscribe)
        self.events = events

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._scripted()

    async def _scripted(self) -> AsyncIterator[Event]:
        for ev in self.events:
            yield ev
        await asyncio.Event().wait()  # then nothing more, like a quiet run


class NoLink(Transport):
    """The transport behind a fake client: nothing is ever sent."""

    def __init__(self, host: str) -> None:
        self.host = host

    async def open(self) -> None:
        raise TransportError("a fake client has no link")

    async def readline(self) -> bytes:
        return b""

    async def write(self, data: bytes) -> None:
        raise TransportError("a fake client has no link")

    async def close(self) -> None:
        pass


class FakeClient(AgentClient):
    """The part of AgentClient the console uses, scripted."""

    def __init__(self, host: str = "gpu-a") -> None:
        super().__init__(NoLink(host))
        self.info = {"build": "0123456789abcdef", "protocol": 1}
        self.state = "connected"

    async def connect(self) -> Hello:
        return self.info

    def heard_age(self) -> float:
        return 0.0  # a fake link never goes quiet (tests of staleness override this)

    async def ping(self, timeout: float = 3.0) -> float:
        return 0.0

    async def subscribe(
        self, run: str | None, since: dict[str, int] | None = None, gpu: bool | None = None
    ) -> Subscription:
        return FakeSubscription(scripted_events(run or ""))

    async def gpus(self, limit: int = 1) -> GpuSamples:
        return {"samples": [SAMPLE_GPUS], "interval": 1.0}

    async def history(self, run: str, points: int = 500, names: list[str] | None = None) -> History:
        return {"last_seq": 0, "series": {}}  # the scripted metric events bring the points

    async def tail(self, run: str, lines: int = 50) -> LogTail:
        return {"lines": [], "end": 0}  # the scripted log event brings the text

    async def log(self, run: str, since: int = 0, limit: int = 1 << 20) -> LogChunk:
        return {"offset": since, "end": since, "text": ""}

    async def log_search(
        self,
        run: str,
        pattern: str | list[str],
        offset: int = 0,
        backward: bool = False,
        limit: int = 1,
        regex: bool = False,
        budget_s: float = 5.0,
    ) -> LogSearch:
        return {"matches": [], "next": 0, "done": True, "size": 0}

    async def checkpoints(self, run: str) -> Checkpoints:
        return {
            "directory": "/w",
            "checkpoints": [{"name": "checkpoint-200", "step": 200, "size": 3 << 30}],
            "disk": {"path": "/w", "free": 500 << 30, "total": 2 << 40},
        }

    async def alerts(
        self, since_t: float = 0.0, unseen: bool = False, mark_seen: bool = False
    ) -> Alerts:
        return {"alerts": [], "last_seq": 0}  # nothing raised while away

    async def notify(self, settings: dict[str, Any]) -> NotifyState:
        return {}

    async def runs(self) -> list[RunSummary]:
        return [
            {
                "id": "rdt-finetune-1",
                "status": "running",
                "exit_code": None,
                "started_at": None,
                "argv": ["accelerate", "launch", "main.py"],
            },
            {
                "id": "rdt-finetune-0",
                "status": "exited",
                "exit_code": 0,
                "started_at": None,
                "argv": ["accelerate", "launch", "main.py"],
            },
        ]

    async def stop(self, run: str, grace: float = 30.0, signal: str | None = None) -> RunSummary:
        return {"id": run, "status": "stopped"}

    async def close(self) -> None:
        self.closed = True


class OneRunStore:
    """The run store as a ``RunWatcher`` reads it: one run in ``root``, running."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def run_dir(self, run_id: str) -> str:
        return str(self.root)

    def spec(self, run_id: str) -> dict[str, Any]:
        return {"cwd": str(self.root)}

    def summary(self, run_id: str) -> dict[str, Any]:
        return {"status": "running"}
