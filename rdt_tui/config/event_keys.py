"""The profile keys of TensorBoard event files: ``event_files`` and ``metric_source``."""

from __future__ import annotations

from typing import Any

SOURCES = ("events", "log")


def event_keys(path: str, data: dict[str, Any]) -> dict[str, Any]:
    """``event_files`` (one glob or a list) and ``metric_source`` ("events", the default, or
    "log", or a table of them per metric name with ``default`` for the others), as Profile
    fields; ValueError names the file and the key."""
    files = data.get("event_files", [])
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list) or not all(isinstance(v, str) for v in files):
        raise ValueError(f"{path}: `event_files` must be a glob or a list of globs")
    source = data.get("metric_source", "events")
    table = source if isinstance(source, dict) else {"default": source}
    for name, value in table.items():
        if value not in SOURCES:
            raise ValueError(
                f'{path}: `metric_source` must be "events" or "log", or a table of them per '
                f'name (metric_source = {{ default = "events", loss = "log" }}); '
                f"{name} = {value!r} is neither"
            )
    return {
        "event_files": list(files),
        "metric_source": source if isinstance(source, str) else dict(table),
    }
