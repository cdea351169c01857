"""Host CPU, memory and disk from /proc and statvfs (no psutil on a bare node)."""

import os
from typing import Any, Dict, Optional, Tuple


class CpuMeter:
    """CPU busy percentage between two calls, from the first line of /proc/stat."""

    def __init__(self) -> None:
        self._last: Optional[Tuple[int, int]] = None

    def percent(self) -> Optional[float]:
        try:
            with open("/proc/stat", "rb") as fh:
                fields = [int(x) for x in fh.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        total = sum(fields[:8])
        last, self._last = self._last, (idle, total)
        if last is None or total == last[1]:
            return None
        return round(100.0 * (1 - (idle - last[0]) / (total - last[1])), 1)


def memory() -> Dict[str, Optional[int]]:
    values: Dict[str, int] = {}
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh:
                key, _, rest = line.partition(b":")
                parts = rest.split()
                if parts:
                    values[key.decode()] = int(parts[0]) * 1024
                if "MemAvailable" in values and "MemTotal" in values:
                    break  # the first lines: not the fifty after them, every second
    except OSError:
        return {"mem_total": None, "mem_used": None}
    total = values.get("MemTotal")
    avail = values.get("MemAvailable")
    return {
        "mem_total": total,
        "mem_used": None if total is None or avail is None else total - avail,
    }


def disk(path: str) -> Dict[str, Any]:
    """Free and total bytes of the filesystem holding ``path`` (its nearest existing parent)."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe) and probe != os.path.dirname(probe):
        probe = os.path.dirname(probe)
    try:
        st = os.statvfs(probe)
    except OSError:
        return {"path": path, "free": None, "total": None}
    return {"path": path, "free": st.f_bavail * st.f_frsize, "total": st.f_blocks * st.f_frsize}


def host_sample(cpu: CpuMeter, disk_path: str) -> Dict[str, Any]:
    try:
        load1: Optional[float] = os.getloadavg()[0]
    except OSError:
        load1 = None
    out: Dict[str, Any] = {"cpu_percent": cpu.percent(), "cpus": os.cpu_count(), "load1": load1}
    out.update(memory())
    out["disk"] = disk(disk_path)
    return out
