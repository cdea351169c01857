"""The run's checkpoints: step, size, age (ticking), notable files."""

from __future__ import annotations

import time
from collections.abc import Callable

from ...core.units import human_age, human_size
from ...protocol.messages import Checkpoint, CheckpointEvent
from .plain_table import PlainTable


class CheckpointTable(PlainTable):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("step", "size", "age", "name", "files")
        self.checkpoints: dict[str, Checkpoint] = {}
        # The wall clock ages are read from (checkpoint mtimes are the node's epoch times);
        # tests pass a frozen one.
        self.clock: Callable[[], float] = time.time

    def _age(self, ts: float | None) -> str:
        return human_age(self.clock() - ts) if ts else "-"

    def apply(self, event: CheckpointEvent) -> None:
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
                self._age(c["mtime"]),
                c["name"],
                " ".join(c["notable"]),
                key=c["path"],
            )

    def tick(self) -> None:
        """Re-read every age from the clock: `2s` becomes `42s` 40 seconds later."""
        if not self.columns:
            return
        age_column = list(self.columns)[2]
        for path, c in self.checkpoints.items():
            age = self._age(c["mtime"])
            if path in self.rows and self.get_cell(path, age_column) != age:
                self.update_cell(path, age_column, age)
