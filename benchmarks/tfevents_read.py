"""Reading a TensorBoard event file: the agent's standard-library follower against TensorBoard's
own reader, on the same file, in the same run. Target: ratio >= 1.

The file is what SummaryWriter writes during RDT training (one event per scalar: loss, lr,
sample MSE every 100 steps), made once under the scratch dir. Our side does what the agent's
watcher does (EventFiles.poll: both CRC32C verified, events decoded, scalars picked out).
TensorBoard's side is the accumulator its server loads runs with
(plugin_event_accumulator.EventAccumulator.Reload, default size guidance); where TensorFlow
is not installed, as here, its records come through tensorboard's own pure-Python TFRecord
reader, which verifies both checksums too.

    python benchmarks/tfevents_read.py [--mb 1024]

A gigabyte takes TensorBoard's accumulator about an hour on a loaded 2-core machine (ours some
minutes): ``--mb 5`` gives the same ratio in under a minute.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import scratch_dir
from rdt_tui.agent.eventfiles import EventFiles
from rdt_tui.agent.tfrecord import frame


def write_event_file(path: str, size: int) -> int:
    """An event file of about ``size`` bytes; returns the number of scalar points."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    def scalar(step: int, tag: str, value: float) -> bytes:
        v = summary_pb2.Summary.Value(tag=tag, simple_value=value)
        ev = event_pb2.Event(
            wall_time=1.7e9 + step * 0.8, step=step, summary=summary_pb2.Summary(value=[v])
        )
        return frame(ev.SerializeToString())

    head = frame(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
    points = 0
    tmp = path + ".part"
    with open(tmp, "wb") as fh:
        fh.write(head)
        written, step = len(head), 0
        while written < size:
            block = []
            for _ in range(10000):
                block.append(scalar(step, "loss", 1.0 / (step + 1)))
                block.append(scalar(step, "lr", 1e-4))
                points += 2
                if step % 100 == 0:
                    for name in ("agilex_sample_mse", "overall_avg_sample_mse", "sample_l2err"):
                        block.append(scalar(step, name, 0.01 + (step % 7) / 1000))
                        points += 1
                step += 1
            data = b"".join(block)
            fh.write(data)
            written += len(data)
    os.replace(tmp, path)
    return points


def ours(directory: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    files = EventFiles(directory, ["*tfevents*"], 0.0)
    points = 0
    while True:
        new, _, more = files.poll()
        points += len(new)
        if not more:
            break
    assert not files.problems, files.problems[:3]
    return points, time.perf_counter() - t0


def tensorboards(directory: str) -> tuple[int, float]:
    import logging

    from tensorboard.backend.event_processing import plugin_event_accumulator as pea

    logging.getLogger("tensorboard").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    acc = pea.EventAccumulator(directory)
    acc.Reload()
    elapsed = time.perf_counter() - t0
    tags = acc.Tags()["tensors"]
    return len(tags), elapsed


def tensorboards_loader(path: str) -> tuple[int, float]:
    """TensorBoard's lower layer alone: records and Event protos (C protobuf), no run state."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    t0 = time.perf_counter()
    events = sum(1 for _ in EventFileLoader(path).Load())
    return events, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1024, help="size of the event file (default 1 GB)")
    args = ap.parse_args()
    # Not "tfevents" in the directory's name: TensorBoard would take it for a file.
    directory = os.path.join(scratch_dir(), f"tb-run-{args.mb}mb")
    path = os.path.join(directory, "events.out.tfevents.1700000000.node.1.0")
    if not os.path.exists(path):
        os.makedirs(directory, exist_ok=True)
        t0 = time.perf_counter()
        write_event_file(path, args.mb << 20)
        print(f"wrote {path} in {time.perf_counter() - t0:.1f}s")
    size = os.path.getsize(path)
    n_ours, t_ours = ours(directory)
    n_tb, t_tb = tensorboards(directory)
    n_events, t_loader = tensorboards_loader(path)
    mb = size / (1 << 20)
    print(f"event file: {mb:.0f} MB, {n_ours} scalar points of {n_tb} tags")
    print(f"ours (rdt_tui.agent.eventfiles, stdlib): {t_ours:7.2f} s  {mb / t_ours:7.2f} MB/s")
    print(f"TensorBoard plugin_event_accumulator:    {t_tb:7.2f} s  {mb / t_tb:7.2f} MB/s")
    print(f"TensorBoard EventFileLoader alone:       {t_loader:7.2f} s  {mb / t_loader:7.2f} MB/s")
    print(f"  ({n_events} events, no purge, no plugin state: a lower layer than ours)")
    print(f"ratio (TensorBoard accumulator time / ours): {t_tb / t_ours:.2f}x  (target >= 1)")
    print(f"ratio (TensorBoard loader time / ours):      {t_loader / t_ours:.2f}x")


if __name__ == "__main__":
    main()
