"""A fake AgentClient for the console's snapshot tests: scripted, deterministic events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

SAMPLE_GPUS: dict[str, Any] = {
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


def gpu_history(seconds: int = 120) -> list[dict[str, Any]]:
    """A minute or two of samples; GPU 1 runs at half the utilisation of GPU 0 (it lags)."""
    out = []
    for t in range(seconds):
        sample = dict(SAMPLE_GPUS, t=float(t))
        sample["gpus"] = [
            dict(g, util=int((90 - 45 * g["index"]) * (0.8 + 0.2 * ((t // 10) % 2))))
            for g in SAMPLE_GPUS["gpus"]
        ]
        out.append(sample)
    return out


def scripted_events(run: str) -> list[dict[str, Any]]:
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
    ckpt = {
        "path": "/w/checkpoint-200",
        "name": "checkpoint-200",
        "step": 200,
        "size": 3 << 30,
        "mtime": None,
        "is_dir": True,
        "notable": ["ema/model.safetensors"],
    }
    return [
        {"event": "metric", "run": run, "seq": 300, "data": {"points": points}},
        {"event": "log", "run": run, "seq": len(log), "data": {"offset": 0, "text": log}},
        *(
            {"event": "gpu", "run": run, "seq": i, "data": sample}
            for i, sample in enumerate(gpu_history(), 1)
        ),
        {
            "event": "checkpoint",
            "run": run,
            "seq": 1,
            "data": {"kind": "added", "checkpoint": ckpt},
        },
        {"event": "status", "run": run, "seq": 0, "data": {"status": "running"}},
    ]


class FakeSubscription:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[dict[str, Any]]:
        for ev in self.events:
            yield ev
        await asyncio.Event().wait()  # then nothing more, like a quiet run


class FakeClient:
    """The part of AgentClient the console uses."""

    def __init__(self, host: str = "gpu-a") -> None:
        self.host = host
        self.info = {"build": "0123456789abcdef", "protocol": 1}
        self.state = "connected"
        self.closed = False
        self._listeners: list[Callable[[str], None]] = []

    async def connect(self) -> dict[str, Any]:
        return self.info

    def heard_age(self) -> float:
        return 0.0  # a fake link never goes quiet (tests of staleness override this)

    async def ping(self, timeout: float = 3.0) -> float:
        return 0.0

    def on_state(self, cb: Callable[[str], None]) -> None:
        self._listeners.append(cb)

    def off_state(self, cb: Callable[[str], None]) -> None:
        if cb in self._listeners:
            self._listeners.remove(cb)

    async def subscribe(
        self, run: str | None, since: Any = None, gpu: bool | None = None
    ) -> FakeSubscription:
        return FakeSubscription(scripted_events(run or ""))

    async def gpus(self, limit: int = 1) -> dict[str, Any]:
        return {"samples": [SAMPLE_GPUS]}

    async def history(
        self, run: str, points: int = 500, names: list[str] | None = None
    ) -> dict[str, Any]:
        return {"last_seq": 0, "series": {}}  # the scripted metric events bring the points

    async def tail(self, run: str, lines: int = 50) -> dict[str, Any]:
        return {"lines": [], "end": 0}  # the scripted log event brings the text

    async def log(self, run: str, since: int = 0, limit: int = 1 << 20) -> dict[str, Any]:
        return {"offset": since, "end": since, "text": ""}

    async def log_search(self, run: str, pattern: Any, *args: Any) -> dict[str, Any]:
        return {"matches": [], "next": 0, "done": True, "size": 0}

    async def checkpoints(self, run: str) -> dict[str, Any]:
        return {
            "directory": "/w",
            "checkpoints": [{"name": "checkpoint-200", "step": 200, "size": 3 << 30}],
            "disk": {"path": "/w", "free": 500 << 30, "total": 2 << 40},
        }

    async def runs(self) -> list[dict[str, Any]]:
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

    async def stop(self, run: str, grace: float = 30.0) -> dict[str, Any]:
        return {"id": run, "status": "stopped"}

    async def close(self) -> None:
        self.closed = True
