"""The metric store on disk: one record file per run, crash consistency, disk errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

from rdt_tui.agent.metricstore import RECORDS, MetricStore
from rdt_tui.core.metrics import MetricPoint
from rdt_tui.protocol.wire import expand_points


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def points_of(store: MetricStore) -> list[tuple[str, float, int | None, int]]:
    return [(p["name"], p["value"], p["step"], p["seq"]) for p in expand_points(store.since(0)[0])]


def test_a_thousand_names_hold_one_descriptor(tmp_path: Any) -> None:
    before = open_fds()
    store = MetricStore(str(tmp_path))
    for step in range(3):
        store.append([MetricPoint(f"task_{i}/success", i / 1000, step) for i in range(1000)], 1.0)
        assert open_fds() - before <= 1
    store.save_cursor({})
    assert open_fds() - before <= 1
    assert sorted(os.listdir(str(tmp_path))) == ["cursor.json", RECORDS]
    store.close()
    again = MetricStore(str(tmp_path))
    assert again.load() is not None
    assert points_of(again) == points_of(store) and len(points_of(again)) == 3000


def test_a_crash_after_the_cursor_drops_the_tail_and_numbering_goes_on(tmp_path: Any) -> None:
    store = MetricStore(str(tmp_path))
    store.append([MetricPoint("loss", 0.5, 1), MetricPoint("lr", 0.1, 1)], 1.0)
    store.append([MetricPoint("loss", 0.4, 1)], 2.0)  # a repaint: replaces, seq 3
    store.save_cursor({"files": {"log": {"offset": 10}}})
    saved = points_of(store)
    store.append([MetricPoint("loss", 0.3, 2), MetricPoint("new_name", 1.0, 2)], 3.0)
    with open(os.path.join(str(tmp_path), RECORDS), "ab") as fh:
        fh.write(b"\x07torn")  # a write cut by the crash
    # The daemon dies here: no close, no cursor. A new one loads what the cursor vouches for.
    again = MetricStore(str(tmp_path))
    cursor = again.load()
    assert cursor is not None and cursor["files"] == {"log": {"offset": 10}}
    assert points_of(again) == saved == [("lr", 0.1, 1, 2), ("loss", 0.4, 1, 3)]
    assert again.names == ["loss", "lr"] and again.last_seq == 3
    with open(os.path.join(str(tmp_path), "cursor.json")) as fh:
        assert os.path.getsize(os.path.join(str(tmp_path), RECORDS)) == json.load(fh)["bytes"]
    # The log is parsed again from offset 10: the same points come back under the next seqs.
    assert again.append([MetricPoint("loss", 0.3, 2)], 4.0) == (4, 4)
    assert again.time_of(4) == 4.0 and again.time_of(3) == 2.0


def test_records_that_do_not_add_up_to_the_cursor_start_over(tmp_path: Any) -> None:
    store = MetricStore(str(tmp_path))
    store.append([MetricPoint("loss", 0.5, 1)], 1.0)
    store.save_cursor({})
    store.close()
    with open(os.path.join(str(tmp_path), RECORDS), "r+b") as fh:
        fh.truncate(10)  # records lost: better to parse the logs again than to serve a gap
    again = MetricStore(str(tmp_path))
    assert again.load() is None and again.last_seq == 0 and again.names == []
    assert os.listdir(str(tmp_path)) == []


def test_the_first_format_of_per_name_columns_is_parsed_again(tmp_path: Any) -> None:
    d = str(tmp_path)
    for name in ("0.seq", "0.step", "0.value", "batches.f64"):
        with open(os.path.join(d, name), "wb") as fh:
            fh.write(b"\0" * 8)
    with open(os.path.join(d, "names.json"), "w") as fh:
        json.dump(["loss"], fh)
    with open(os.path.join(d, "cursor.json"), "w") as fh:
        json.dump({"last_seq": 1, "counts": {"0": 1}, "files": {}}, fh)
    store = MetricStore(d)
    assert store.load() is None  # from offset 0, into the new format
    assert os.listdir(d) == []


def test_out_of_range_steps_and_names_never_raise(tmp_path: Any) -> None:
    store = MetricStore(str(tmp_path))
    store.append(
        [
            MetricPoint("loss", 0.5, 10**20),  # a parser bug must not end the watcher either
            MetricPoint("loss", float("nan"), -(10**30)),
            MetricPoint("x" * 10000, 1.0, 1),
            MetricPoint("loss", 0.25, 3.0),  # type: ignore[arg-type]
            MetricPoint("lr", 0.1, float("nan")),  # type: ignore[arg-type]
        ],
        1.0,
    )
    got = points_of(store)
    assert [(name, step, seq) for name, _, step, seq in got] == [
        ("loss", None, 1),  # kept, without a step
        ("loss", None, 2),  # two points without a step never replace each other
        ("loss", 3, 3),
        ("lr", None, 4),
    ]
    assert store.dropped == 1


DISK_FULL = textwrap.dedent(
    """
    import json, os, resource, signal, sys
    from rdt_tui.agent.metricstore import MetricStore, RECORDS
    from rdt_tui.core.metrics import MetricPoint
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    d = sys.argv[1]
    store = MetricStore(d)
    store.append([MetricPoint("loss", 1.0, 0)], 1.0)
    store.save_cursor({"files": {"at": 0}})
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (700, hard))  # the disk is now full
    errors = []
    for step in range(1, 40):
        store.append([MetricPoint("loss", 1.0 / step, step), MetricPoint("lr", 0.1, step)], 2.0)
        store.save_cursor({"files": {"at": step}})
        errors.append(store.write_error)
    with open(os.path.join(d, "cursor.json")) as fh:
        stuck = json.load(fh)
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space again
    store.append([MetricPoint("loss", 0.001, 40)], 3.0)
    store.save_cursor({"files": {"at": 40}})
    print(json.dumps({"errors": errors, "stuck": stuck, "after": store.write_error,
                      "last_seq": store.last_seq}))
    """
)


def test_a_full_disk_keeps_points_in_memory_and_the_cursor_where_the_file_is(
    tmp_path: Any,
) -> None:
    d = str(tmp_path)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    out = subprocess.run(
        [sys.executable, "-c", DISK_FULL, d], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert any(e and "large" in e for e in report["errors"]), report["errors"]
    assert report["after"] is None and report["last_seq"] == 1 + 39 * 2 + 1
    # While writes failed, the cursor stayed with what the file really holds.
    assert report["stuck"]["files"]["at"] < 39 and report["stuck"]["bytes"] <= 700
    store = MetricStore(d)
    assert store.load() is not None
    got = points_of(store)
    assert len(got) == 80 and got[-1] == ("loss", 0.001, 40, 80)
