"""The queue screen's jobs come from ``squeue -o "%i|%j|..."``. A job name is the user's own
words and may hold a ``|`` (``sbatch -J 'a|b'``): that job used to be dropped from the queue
without a word, as a line with nine fields. A stand-in squeue on PATH (a unit test of the
parser; the lab's real squeue prints the same line)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rdt_tui.agent import slurm

LINES = [
    "101|plain|RUNNING|None|1:02|2|n[1-2]|2026-12-01T19:00:00",
    "102|a|b||c|PENDING|Priority|0:00|1||N/A",
]


def test_a_job_name_with_a_bar_is_still_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "queue.txt").write_text("\n".join(LINES) + "\n")
    squeue = tmp_path / "squeue"
    squeue.write_text(f"#!/bin/sh\nexec cat {tmp_path / 'queue.txt'}\n")
    squeue.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    jobs = slurm.queue("someone")
    assert [(j["job_id"], j["name"], j["state"], j["nodes"]) for j in jobs] == [
        ("101", "plain", "RUNNING", 2),
        ("102", "a|b||c", "PENDING", 1),
    ]
    assert jobs[1]["reason"] == "Priority" and jobs[1]["nodelist"] == ""


def test_a_job_name_that_is_not_utf8_is_listed_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name typed in a Latin-1 terminal (``sbatch -J caf\\xe9``): Slurm keeps the bytes. The
    answer of every Slurm command (squeue, scontrol, sacct) was decoded strictly, so one such
    byte made the whole queue an error ("bad arguments for queue: 'utf-8' codec ...")."""
    (tmp_path / "queue.txt").write_bytes(
        b"103|caf\xe9|RUNNING|None|0:05|1|n1|2026-12-01T19:00:00\n"
    )
    squeue = tmp_path / "squeue"
    squeue.write_text(f"#!/bin/sh\nexec cat {tmp_path / 'queue.txt'}\n")
    squeue.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    jobs = slurm.queue("someone")
    assert [(j["job_id"], j["name"][:3], j["state"]) for j in jobs] == [("103", "caf", "RUNNING")]
