"""TensorBoard event files read by the agent's standard-library follower, checked point by point
against TensorBoard's own reader on the same files (written by torch's SummaryWriter)."""

from __future__ import annotations

import itertools
import os
import random
import struct
from pathlib import Path

import pytest

from rdt_tui.agent import tfrecord
from rdt_tui.agent.eventfiles import EventFiles
from rdt_tui.agent.tfevents import decode_event
from tests.tfevents_ref import apply, event_files, later, ours, tensorboard_scalars

pytest.importorskip("tensorboard")
SummaryWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter
np = pytest.importorskip("numpy")


def test_crc32c_known_values_and_tensorboards_own() -> None:
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import crc32c, masked_crc32c

    assert tfrecord.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert tfrecord.crc32c(b"") == 0
    data = random.Random(1).randbytes(4099)
    for n in (1, 7, 8, 9, 15, 16, 17, 100, 4099):
        assert tfrecord.crc32c(data[:n]) == crc32c(data[:n]), n
        assert tfrecord.masked_crc32c(data[:n]) == masked_crc32c(data[:n]), n


def test_summarywriter_scalars_match_tensorboard(tmp_path) -> None:
    logdir = tmp_path / "logs"
    w = SummaryWriter(str(logdir))
    for i in range(200):
        step = i * 7 + 3
        w.add_scalar("train/loss", 1.0 / (i + 1), step)  # simple_value
        w.add_scalar("lr", 1e-4 * (i % 13), step, new_style=True)  # float tensor
        w.add_scalar("exact", 0.1 * i, step, new_style=True, double_precision=True)
        w.add_scalar("big_step", float(i), 2**40 + i)
        w.add_scalar("nan", float("nan") if i == 5 else -float(i), step)
        if i % 50 == 0:
            w.add_histogram("weights", np.arange(10.0) * i, step)  # not a scalar
            w.add_text("note", f"step {step}", step)
        # One-element float tensors that are not scalars: another plugin's, and one with no
        # metadata at all. TensorBoard's scalars leave both out.
        w._get_file_writer().add_summary(_tensor_summary("other", "custom", 3.0), step)
        w._get_file_writer().add_summary(_tensor_summary("bare", None, 4.0), step)
    w.close()
    expected = tensorboard_scalars(str(logdir))
    assert set(expected) == {"train/loss", "lr", "exact", "big_step", "nan"}
    got = ours(str(tmp_path))
    assert set(got) == set(expected)
    for tag, points in expected.items():
        assert len(got[tag]) == len(points) == 200
        for (s1, v1), (s2, v2) in zip(got[tag], points, strict=True):
            assert s1 == s2
            assert v1 == v2 or (v1 != v1 and v2 != v2), (tag, s1, v1, v2)


def _tensor_summary(tag: str, plugin: str | None, value: float) -> object:
    from tensorboard.compat.proto import summary_pb2, tensor_pb2

    meta = None
    if plugin:
        data = summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin)
        meta = summary_pb2.SummaryMetadata(plugin_data=data)
    tensor = tensor_pb2.TensorProto(dtype=1, float_val=[value])
    return summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, metadata=meta, tensor=tensor)]
    )


def test_add_scalars_subdirectories_are_named_by_their_path(tmp_path) -> None:
    logdir = tmp_path / "logs" / "run"
    w = SummaryWriter(str(logdir))
    for i in range(20):
        w.add_scalar("loss", 1.0 / (i + 1), i)
        w.add_scalars("mse", {"train": 0.5 * i, "val": 0.25 * i}, i)
    w.close()
    got = ours(str(tmp_path))
    assert set(got) == {"loss", "mse_train/mse", "mse_val/mse"}
    assert got["loss"] == tensorboard_scalars(str(logdir))["loss"]
    assert got["mse_val/mse"] == tensorboard_scalars(str(logdir / "mse_val"))["mse"]


def test_a_record_torn_at_the_tail_waits_then_completes(tmp_path) -> None:
    src = tmp_path / "src"
    w = SummaryWriter(str(src))
    for i in range(100):
        w.add_scalar("loss", 1.0 / (i + 1), i)
    w.close()
    data = Path(event_files(str(src))[0]).read_bytes()
    logs = tmp_path / "logs"
    logs.mkdir()
    target = logs / os.path.basename(event_files(str(src))[0])
    files = EventFiles(str(tmp_path), ["logs/events.out.tfevents.*"], 0.0)
    series: dict = {}
    # Grow the file in uneven slices that cut headers, data and checksums alike.
    cuts = sorted({0, len(data), *random.Random(7).sample(range(1, len(data)), 40)})
    seen = []
    for a, b in itertools.pairwise(cuts):
        with open(target, "ab") as fh:
            fh.write(data[a:b])
        points, purges, _ = files.poll()
        apply(points, purges, series)
        seen.append(len(series.get("loss", [])))
        _inode, offset = files.readers[str(target)].position()
        assert offset <= b
    assert not files.problems
    assert seen[0] < seen[-1]  # points came as the bytes did, not all at the end
    assert series == tensorboard_scalars(str(src))
    # One record cut in the middle of its data: nothing of it until the rest arrives.
    files2 = EventFiles(str(tmp_path), ["logs2/events.out.tfevents.*"], 0.0)
    (tmp_path / "logs2").mkdir()
    half = tmp_path / "logs2" / target.name
    record = tfrecord.frame(b"\x09" + struct.pack("<d", 1.0) + b"\x10\x05")  # wall_time, step
    half.write_bytes(record[:15])
    assert files2.poll()[0] == [] and files2.readers[str(half)].offset == 0
    with open(half, "ab") as fh:
        fh.write(record[15:])
    files2.poll()
    assert files2.readers[str(half)].offset == len(record) and not files2.problems


def _records(path: str) -> list[tuple[int, int]]:
    """(offset, length) of each record of a file."""
    data = Path(path).read_bytes()
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("<Q", data, pos)
        out.append((pos, n))
        pos += 16 + n
    return out


def test_corrupt_records_are_skipped_and_reported(tmp_path) -> None:
    logdir = tmp_path / "logs"
    w = SummaryWriter(str(logdir))
    for i in range(100):
        w.add_scalar("loss", float(i), i)
    w.close()
    path = event_files(str(logdir))[0]
    expected = tensorboard_scalars(str(logdir))["loss"]
    recs = _records(path)
    raw = bytearray(Path(path).read_bytes())
    # Record 11 (the 1st is the file version, so step 10) gets a bad data byte; record 51
    # (step 50) a bad length byte, so its header fails.
    off, n = recs[11]
    raw[off + 12 + n // 2] ^= 0xFF
    off, _ = recs[51]
    raw[off + 1] ^= 0x40
    with open(path, "wb") as fh:
        fh.write(raw)
    files = EventFiles(str(tmp_path), ["logs/*tfevents*"], 0.0)
    points, purges, _ = files.poll()
    got = apply(points, purges)["loss"]
    assert got == [p for p in expected if p[0] not in (10, 50)]
    assert len(files.problems) == 2
    assert "data checksum" in files.problems[0] and str(recs[11][0]) in files.problems[0]
    assert "corrupt record header" in files.problems[1] and str(recs[51][0]) in files.problems[1]
    assert files.poll()[0] == [] and len(files.problems) == 2  # nothing read or told twice


def test_a_resume_that_goes_back_100_steps(tmp_path) -> None:
    """A job that crashed at step 299 resumes from its checkpoint at 200 in a second file:
    TensorBoard keeps both files' points (current writers purge only on a restart's START
    event); the store keeps the later point of each step, as the chart must show."""
    logdir = tmp_path / "logs"
    w = SummaryWriter(str(logdir))
    for i in range(300):
        w.add_scalar("loss", 1.0, i)
    w.close()
    later()
    w = SummaryWriter(str(logdir))
    for i in range(200, 400):
        w.add_scalar("loss", 2.0, i)
    w.close()
    assert len(event_files(str(logdir))) == 2
    got = ours(str(tmp_path))
    assert got == tensorboard_scalars(str(logdir))
    last = dict(got["loss"])  # the later point of a step replaces the earlier one
    assert [last[s] for s in range(400)] == [1.0] * 200 + [2.0] * 200


def test_a_restart_start_event_purges_as_tensorboard_does(tmp_path) -> None:
    from tensorboard.compat.proto import event_pb2

    logdir = tmp_path / "logs"
    for first, last, value in ((0, 300, 1.0), (200, 400, 2.0)):
        w = SummaryWriter(str(logdir))
        fw = w._get_file_writer()
        fw.add_event(event_pb2.Event(step=first, session_log=event_pb2.SessionLog(status=1)))
        for i in range(first, last):
            w.add_scalar("loss", value, i)
            w.add_scalar("acc", value, i)
        w.close()
        later()
    expected = tensorboard_scalars(str(logdir))
    assert [s for s, _ in expected["loss"]] == list(range(400))  # purged: no step twice
    assert ours(str(tmp_path)) == expected


def test_legacy_files_purge_out_of_order_steps_by_tag(tmp_path) -> None:
    """file_version 1 (old TensorFlow): an out-of-order step purges only its own tags."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    logdir = tmp_path / "logs"
    logdir.mkdir()
    events = [event_pb2.Event(wall_time=1.0, file_version="brain.Event:1")]
    steps = [*range(0, 50), *range(30, 60)]
    for k, step in enumerate(steps):
        tags = ["a", "b"] if k < 50 else ["a"]
        values = [summary_pb2.Summary.Value(tag=t, simple_value=float(k)) for t in tags]
        events.append(
            event_pb2.Event(wall_time=2.0 + k, step=step, summary=summary_pb2.Summary(value=values))
        )
    with open(logdir / "events.out.tfevents.1.host", "wb") as fh:
        for ev in events:
            fh.write(tfrecord.frame(ev.SerializeToString()))
    expected = tensorboard_scalars(str(logdir))
    assert [s for s, _ in expected["a"]] == list(range(60))
    assert [s for s, _ in expected["b"]] == list(range(50))
    assert ours(str(tmp_path)) == expected


def test_ten_thousand_distinct_tags(tmp_path) -> None:
    logdir = tmp_path / "logs"
    w = SummaryWriter(str(logdir), max_queue=1000)
    for step in range(3):
        for k in range(10000):
            w.add_scalar(f"group{k % 100}/metric_{k}", k + step / 10, step)
    w.close()
    got = ours(str(tmp_path))
    assert len(got) == 10000
    assert got == tensorboard_scalars(str(logdir))


def test_only_files_written_since_the_run_began(tmp_path) -> None:
    old = tmp_path / "logs" / "old"
    w = SummaryWriter(str(old))
    w.add_scalar("loss", 9.0, 1)
    w.close()
    os.utime(event_files(str(old))[0], (1.0, 1.0))
    w = SummaryWriter(str(tmp_path / "logs" / "new"))
    w.add_scalar("loss", 1.0, 1)
    w.close()
    files = EventFiles(str(tmp_path), ["logs/**/events.out.tfevents.*"], 1000.0)
    assert files.poll()[0] == [("loss", 1.0, 1)]


def test_cursor_resumes_where_it_stopped(tmp_path) -> None:
    logdir = tmp_path / "logs"
    w = SummaryWriter(str(logdir), max_queue=1)
    for i in range(10):
        w.add_scalar("loss", float(i), i)
    w.flush()
    files = EventFiles(str(tmp_path), ["logs/*tfevents*"], 0.0)
    first, _, _ = files.poll()
    for i in range(10, 20):
        w.add_scalar("loss", float(i), i)
    w.close()
    again = EventFiles(str(tmp_path), ["logs/*tfevents*"], 0.0, files.cursor())
    second, _, _ = again.poll()
    assert [p[2] for p in first + second] == list(range(20))


def test_decode_rejects_garbage_without_raising_anything_else() -> None:
    for junk in (b"\x0a\xff\xff\xff\xff\x0f", b"\x0b", b"\x2a\x05abc"):
        with pytest.raises(ValueError):
            decode_event(junk)


def test_the_fast_path_reads_as_the_general_decoder() -> None:
    """Most records are read by offsets (_one_simple_value); every shape near it must give
    what the general decoder gives, or fall back to it."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from rdt_tui.agent import tfevents

    rng = random.Random(3)
    tags = ["loss", "", "t" * 115, "t" * 116, "t" * 200, "ü/ñ", "a/b/c"]
    steps = [0, 1, 127, 128, 2**31, 2**62, -1, -(2**63)]
    taken = 0
    for tag in tags:
        for step in steps:
            for wall in (0.0, 1.7e9 + rng.random()):
                v = summary_pb2.Summary.Value(tag=tag, simple_value=rng.uniform(-1e9, 1e9))
                values = [v] if rng.random() < 0.8 else [v, v]
                ev = event_pb2.Event(
                    wall_time=wall, step=step, summary=summary_pb2.Summary(value=values)
                )
                data = ev.SerializeToString()
                fast = tfevents._one_simple_value(data)
                taken += fast is not None
                general = tfevents._decode_event(data)
                assert decode_event(data) == general, (tag, step, wall)
                assert fast is None or fast == general
                assert general.step == step and general.values[0].tag == tag
    assert taken > 20  # the fast path is the one that reads most of them


def test_a_cwd_with_glob_characters_names_itself(tmp_path) -> None:
    cwd = tmp_path / "exp[1]*"
    w = SummaryWriter(str(cwd / "logs"))
    w.add_scalar("loss", 1.0, 1)
    w.close()
    files = EventFiles(str(cwd), ["logs/*tfevents*"], 0.0)
    assert files.poll()[0] == [("loss", 1.0, 1)]


def test_a_record_cut_short_when_the_run_ends_is_reported(tmp_path) -> None:
    logdir = tmp_path / "logs"
    w = SummaryWriter(str(logdir))
    for i in range(5):
        w.add_scalar("loss", float(i), i)
    w.close()
    path = event_files(str(logdir))[0]
    with open(path, "ab") as fh:
        fh.write(tfrecord.frame(b"\x09" + struct.pack("<d", 1.0))[:-3])  # the writer died
    files = EventFiles(str(tmp_path), ["logs/*tfevents*"], 0.0)
    assert len(files.poll()[0]) == 5 and files.problems == []  # still running: it may come
    files.poll(final=True)
    files.poll(final=True)
    assert len(files.problems) == 1 and "cut short" in files.problems[0]
