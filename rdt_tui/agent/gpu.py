"""GPU telemetry: NVML through nvidia-ml-py, else ``nvidia-smi``, else nothing.

Simulated GPUs exist only when asked for explicitly (``--simulate-gpus N``), and every sample
they give says ``"simulated": true`` and names them ``SIMULATED``. A field a GPU does not report
is None (JSON null) rather than an exception, so one odd card never hides the others.
"""

import math
import shutil
import subprocess
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from .procs import run_of_pid, start_time

GpuDict = Dict[str, Any]
MIN_INTERVAL = 1.0 / 6.0  # never sample faster than 6 Hz: NVML calls are not free


class RunOfPid:
    """Which run a pid belongs to (by its marker), cached by pid and start time."""

    def __init__(self) -> None:
        self._cache: Dict[Tuple[int, Optional[int]], Optional[str]] = {}

    def __call__(self, pid: int) -> Optional[str]:
        key = (pid, start_time(pid))
        if key not in self._cache:
            self._cache[key] = run_of_pid(pid)
            if len(self._cache) > 4096:
                self._cache.clear()
        return self._cache[key]


class GpuBackend:
    name = "none"
    simulated = False

    def sample(self, run_of: Callable[[int], Optional[str]]) -> List[GpuDict]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class NvmlBackend(GpuBackend):
    """NVML with lazy init and device handles cached for the life of the backend."""

    name = "nvml"

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        nvml.nvmlInit()
        self._handles = [
            nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())
        ]
        self._static: List[Dict[str, Any]] = [self._static_info(h) for h in self._handles]

    def _field(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except self.nvml.NVMLError:
            return None

    def _static_info(self, h: Any) -> Dict[str, Any]:
        name = self._field(self.nvml.nvmlDeviceGetName, h)
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        uuid = self._field(self.nvml.nvmlDeviceGetUUID, h)
        if isinstance(uuid, bytes):
            uuid = uuid.decode("ascii", "replace")
        limit = self._field(self.nvml.nvmlDeviceGetEnforcedPowerLimit, h)
        persistence = getattr(self.nvml, "nvmlDeviceGetPersistenceMode", None)
        return {
            "name": name,
            "uuid": uuid,
            "power_limit": None if limit is None else limit / 1000.0,
            # 1 on, 0 off; None where unknown (a preflight warning when off)
            "persistence": None if persistence is None else self._field(persistence, h),
        }

    def sample(self, run_of: Callable[[int], Optional[str]]) -> List[GpuDict]:
        nvml = self.nvml
        out = []
        for i, h in enumerate(self._handles):
            util = self._field(nvml.nvmlDeviceGetUtilizationRates, h)
            mem = self._field(nvml.nvmlDeviceGetMemoryInfo, h)
            power = self._field(nvml.nvmlDeviceGetPowerUsage, h)
            procs = self._field(nvml.nvmlDeviceGetComputeRunningProcesses, h) or []
            gpu: GpuDict = {"index": i}
            gpu.update(self._static[i])
            gpu.update(
                {
                    "util": None if util is None else util.gpu,
                    "mem_used": None if mem is None else mem.used,
                    "mem_total": None if mem is None else mem.total,
                    "power": None if power is None else power / 1000.0,
                    "temp": self._field(
                        nvml.nvmlDeviceGetTemperature, h, nvml.NVML_TEMPERATURE_GPU
                    ),
                    "sm_clock": self._field(nvml.nvmlDeviceGetClockInfo, h, nvml.NVML_CLOCK_SM),
                    "processes": [
                        _process(p.pid, _nvml_mem(p.usedGpuMemory), run_of) for p in procs
                    ],
                }
            )
            out.append(gpu)
        return out

    def close(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except Exception:
            pass


def _nvml_mem(value: Any) -> Optional[int]:
    # NVML reports "not available" as a huge sentinel (NVML_VALUE_NOT_AVAILABLE) or None.
    if value is None or value >= (1 << 63) - 1 or value < 0:
        return None
    return int(value)


def _process(pid: int, mem: Optional[int], run_of: Callable[[int], Optional[str]]) -> GpuDict:
    return {"pid": pid, "mem": mem, "run": run_of(pid)}


SMI_FIELDS = (
    "index",
    "name",
    "uuid",
    "utilization.gpu",
    "memory.used",
    "memory.total",
    "power.draw",
    "power.limit",
    "temperature.gpu",
    "clocks.sm",
)


class SmiBackend(GpuBackend):
    """``nvidia-smi --query-gpu ... --format=csv`` when the NVML binding is not importable."""

    name = "nvidia-smi"

    def __init__(self, exe: str) -> None:
        self.exe = exe

    def _query(self, what: str, fields: str) -> List[List[str]]:
        out = subprocess.run(
            [self.exe, "--query-" + what + "=" + fields, "--format=csv,noheader,nounits"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=True,
        )
        return [
            [c.strip() for c in line.split(",")]
            for line in out.stdout.decode("utf-8", "replace").splitlines()
            if line.strip()
        ]

    def sample(self, run_of: Callable[[int], Optional[str]]) -> List[GpuDict]:
        return parse_smi(
            self._query("gpu", ",".join(SMI_FIELDS)),
            self._query("compute-apps", "gpu_uuid,pid,used_memory"),
            run_of,
        )


def _num(text: str, scale: float = 1.0) -> Optional[float]:
    try:
        value = float(text) * scale
    except ValueError:
        return None  # "[N/A]", "[Not Supported]"
    # "nan", "inf": not a reading either (and the wire's type for a field is a number or None)
    return value if math.isfinite(value) else None


def parse_smi(
    gpu_rows: List[List[str]], app_rows: List[List[str]], run_of: Callable[[int], Optional[str]]
) -> List[GpuDict]:
    mib = 1024.0 * 1024.0
    by_uuid: Dict[str, List[GpuDict]] = {}
    for row in app_rows:
        if len(row) >= 3 and row[1].isdigit():
            mem = _num(row[2], mib)
            by_uuid.setdefault(row[0], []).append(
                _process(int(row[1]), None if mem is None else int(mem), run_of)
            )
    gpus = []
    for row in gpu_rows:
        if len(row) < len(SMI_FIELDS):
            continue
        values = dict(zip(SMI_FIELDS, row))
        used, total = _num(values["memory.used"], mib), _num(values["memory.total"], mib)
        util, temp, clock = (
            _num(values[k]) for k in ("utilization.gpu", "temperature.gpu", "clocks.sm")
        )
        gpus.append(
            {
                "index": int(values["index"]),
                "name": values["name"],
                "uuid": values["uuid"],
                "util": None if util is None else int(util),
                "mem_used": None if used is None else int(used),
                "mem_total": None if total is None else int(total),
                "power": _num(values["power.draw"]),
                "power_limit": _num(values["power.limit"]),
                "temp": None if temp is None else int(temp),
                "sm_clock": None if clock is None else int(clock),
                "processes": by_uuid.get(values["uuid"], []),
            }
        )
    return gpus


class SimulatedBackend(GpuBackend):
    """Made-up GPUs for demos and benchmarks on machines without NVIDIA; labelled SIMULATED."""

    name = "simulated"
    simulated = True

    def __init__(self, count: int) -> None:
        self.count = count
        self._t0 = time.time()

    def sample(self, run_of: Callable[[int], Optional[str]]) -> List[GpuDict]:
        t = time.time() - self._t0
        total = 80 * 1024**3
        out = []
        for i in range(self.count):
            wave = 0.5 + 0.5 * math.sin(t / 7.0 + i)
            out.append(
                {
                    "index": i,
                    "name": "SIMULATED GPU",
                    "uuid": f"SIMULATED-{i}",
                    "util": int(60 + 39 * wave),
                    "mem_used": int(total * (0.3 + 0.4 * wave)),
                    "mem_total": total,
                    "power": round(150 + 250 * wave, 1),
                    "power_limit": 400.0,
                    "temp": int(45 + 30 * wave),
                    "sm_clock": 1410,
                    "processes": [],
                }
            )
        return out


def open_backend(simulate: int = 0) -> Tuple[Optional[GpuBackend], str]:
    """The best backend this host offers, or None and the reason (shown where GPUs would be)."""
    if simulate > 0:
        return SimulatedBackend(simulate), ""
    reason = ""
    try:
        import pynvml  # lazily: only nodes with the binding installed have it
    except ImportError:
        pynvml = None
        reason = "nvidia-ml-py is not installed for this Python"
    if pynvml is not None:
        try:
            return NvmlBackend(pynvml), ""
        except pynvml.NVMLError as exc:
            reason = f"NVML: {exc}"
    exe = shutil.which("nvidia-smi")
    if exe:
        backend = SmiBackend(exe)
        try:
            backend.sample(lambda pid: None)
            return backend, ""
        except (OSError, subprocess.SubprocessError) as exc:
            reason = f"{reason}; nvidia-smi failed: {exc}"
    else:
        reason = f"no NVIDIA driver found ({reason}; no nvidia-smi on PATH)"
    return None, reason
