"""The run's checkpoints: step, size, age, notable files."""

from __future__ import annotations

import time
from typing import Any

from textual.widgets import DataTable

from ...core.units import human_size


def _age(ts: float | None) -> str:
    if not ts:
        return "-"
    s = max(0, int(time.time() - ts))
    return f"{s // 3600}h" if s >= 3600 else f"{s // 60}m" if s >= 60 else f"{s}s"


class CheckpointTable(DataTable[str]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("step", "size", "age", "name", "files")
        self.checkpoints: dict[str, dict[str, Any]] = {}

    def apply(self, event: dict[str, Any]) -> None:
        ck = event["checkpoint"]
        if event["kind"] == "removed":
            self.checkpoints.pop(ck["path"], None)
        else:
            self.checkpoints[ck["path"]] = ck
        self.clear()
        # Newest first, like `ls -lht checkpoints/`: the one a user wants is on top.
        newest_first = sorted(
            self.checkpoints.values(), key=lambda c: (c["step"] or 0, c["mtime"] or 0), reverse=True
        )
        for c in newest_first:
            self.add_row(
                "-" if c["step"] is None else str(c["step"]),
                human_size(c["size"], compact=True),
                _age(c["mtime"]),
                c["name"],
                " ".join(c["notable"]),
                key=c["path"],
            )
