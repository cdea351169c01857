"""GPU telemetry against a simulated NVML binding and recorded nvidia-smi output."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from rdt_tui.agent.gpu import NvmlBackend, SimulatedBackend, open_backend, parse_smi


class FakeNVMLError(Exception):
    pass


class FakeNvml:
    """The subset of pynvml the backend calls; GPU 1 does not report power or temperature."""

    NVMLError = FakeNVMLError
    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1

    def __init__(self) -> None:
        self.inits = 0
        self.handle_calls = 0

    def nvmlInit(self) -> None:
        self.inits += 1

    def nvmlShutdown(self) -> None:
        pass

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        self.handle_calls += 1
        return i

    def nvmlDeviceGetName(self, h: int) -> bytes:
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetUUID(self, h: int) -> str:
        return f"GPU-{h}"

    def nvmlDeviceGetEnforcedPowerLimit(self, h: int) -> int:
        return 700000

    def nvmlDeviceGetPersistenceMode(self, h: int) -> int:
        if h == 1:
            raise FakeNVMLError("Not Supported")
        return 0

    def nvmlDeviceGetUtilizationRates(self, h: int) -> Any:
        return SimpleNamespace(gpu=97 if h == 0 else 3)

    def nvmlDeviceGetMemoryInfo(self, h: int) -> Any:
        return SimpleNamespace(used=(40 + h) << 30, total=80 << 30)

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        if h == 1:
            raise FakeNVMLError("Not Supported")
        return 512345

    def nvmlDeviceGetTemperature(self, h: int, kind: int) -> int:
        if h == 1:
            raise FakeNVMLError("Not Supported")
        return 66

    def nvmlDeviceGetClockInfo(self, h: int, kind: int) -> int:
        return 1980

    def nvmlDeviceGetComputeRunningProcesses(self, h: int) -> list[Any]:
        if h == 0:
            return [
                SimpleNamespace(pid=4242, usedGpuMemory=30 << 30),
                SimpleNamespace(pid=4343, usedGpuMemory=None),
            ]
        return []


def test_nvml_fields_a_gpu_lacks_are_none_and_handles_are_cached() -> None:
    nvml = FakeNvml()
    backend = NvmlBackend(nvml)
    runs = {4242: "rdt-20261122-1"}
    for _ in range(3):
        gpus = backend.sample(runs.get)
    assert nvml.inits == 1 and nvml.handle_calls == 2
    g0, g1 = gpus
    assert g0["util"] == 97 and g0["power"] == 512.345 and g0["temp"] == 66
    assert g0["power_limit"] == 700.0 and g0["name"] == "NVIDIA H100 80GB HBM3"
    assert g0["processes"] == [
        {"pid": 4242, "mem": 30 << 30, "run": "rdt-20261122-1"},
        {"pid": 4343, "mem": None, "run": None},
    ]
    assert g1["power"] is None and g1["temp"] is None and g1["util"] == 3
    assert g0["persistence"] == 0 and g1["persistence"] is None


def test_nvidia_smi_csv_with_not_available_fields() -> None:
    gpus = parse_smi(
        [
            [
                "0",
                "NVIDIA A100-SXM4-40GB",
                "GPU-a",
                "88",
                "30000",
                "40960",
                "250.5",
                "400.00",
                "61",
                "1410",
            ],
            [
                "1",
                "NVIDIA A100-SXM4-40GB",
                "GPU-b",
                "0",
                "3",
                "40960",
                "[N/A]",
                "[N/A]",
                "35",
                "[Not Supported]",
            ],
        ],
        [["GPU-a", "777", "29000"]],
        lambda pid: "run-x" if pid == 777 else None,
    )
    assert gpus[0]["mem_used"] == 30000 * 1024 * 1024 and gpus[0]["power"] == 250.5
    assert gpus[0]["processes"] == [{"pid": 777, "mem": 29000 * 1024 * 1024, "run": "run-x"}]
    assert gpus[1]["power"] is None and gpus[1]["sm_clock"] is None
    assert gpus[1]["processes"] == []


def test_simulated_gpus_only_when_asked_and_always_labelled() -> None:
    backend, _ = open_backend(simulate=3)
    assert isinstance(backend, SimulatedBackend) and backend.simulated
    gpus = backend.sample(lambda pid: None)
    assert len(gpus) == 3 and all("SIMULATED" in g["name"] for g in gpus)


def test_without_a_driver_there_is_no_backend_and_a_reason() -> None:
    backend, reason = open_backend(simulate=0)
    # This machine has no NVIDIA driver; on a GPU machine this names the real backend.
    if backend is None:
        assert "NVML" in reason or "nvidia" in reason.lower()
    else:
        assert backend.name in ("nvml", "nvidia-smi") and not backend.simulated
