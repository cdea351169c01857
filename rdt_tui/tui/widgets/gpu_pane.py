"""GPUs of the host, one line each; without a driver, the host's CPU and memory instead."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static


def _gib(n: Any) -> str:
    return "-" if n is None else f"{n / (1 << 30):.1f}G"


def _num(n: Any, unit: str) -> str:
    return "-" if n is None else f"{n:.0f}{unit}"


class GpuPane(Static):
    DEFAULT_CSS = "GpuPane { padding: 0 1; border: round $primary; }"

    def show(self, sample: dict[str, Any], run_id: str | None) -> None:
        host = sample.get("host") or {}
        cpu = host.get("cpu_percent")
        lines = [
            f"CPU {_num(cpu, '%')} of {host.get('cpus')} cores   "
            f"mem {_gib(host.get('mem_used'))}/{_gib(host.get('mem_total'))}"
        ]
        gpus = sample.get("gpus") or []
        if not gpus:
            lines.append(f"No GPUs: {sample.get('reason') or 'none reported'}")
        simulated = bool(sample.get("simulated"))
        for g in gpus:
            label = "SIMULATED " if simulated and "SIMULATED" not in str(g.get("name")) else ""
            ours = any(p.get("run") == run_id for p in g.get("processes") or [])
            lines.append(
                f"[{g['index']}] {label}{g.get('name')}  util {_num(g.get('util'), '%')}  "
                f"mem {_gib(g.get('mem_used'))}/{_gib(g.get('mem_total'))}  "
                f"{_num(g.get('temp'), 'C')}  {_num(g.get('power'), 'W')}"
                f"{'  *run' if ours else ''}"
            )
        self.update("\n".join(lines))
