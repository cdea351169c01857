"""A subscription: what came after the client's positions in a run's stores, pushed as events.

Each time news arrives (the watcher polled, a GPU sample came, or a second passed) the pump
takes the log, metric points and checkpoint events after the positions it has sent, so a
client that re-attaches with its last positions sees no gap and no duplicate. It takes
output.log's new lines only when the watcher's view of it changed: from the bytes the watcher
just read when they hold them (no second read, no trip to a worker thread), else by a read
off the event loop.
"""

import asyncio
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..protocol import wire
from ..protocol.errors import AgentError
from .follower import chunk_from_last_read, read_chunk
from .runs import RUNNING
from .supervise import backoff
from .wake import wait_set

SUB_BATCH = 20000
LOG_BATCH = 256 * 1024


def event(sub_id: str, name: str, run: Optional[str], seq: int, data: Any) -> Dict[str, Any]:
    msg = wire.event(name, run, seq, data)
    msg["sub"] = sub_id  # which subscription it feeds, when a client holds several
    return msg


async def pump(
    conn: Any,
    sub_id: str,
    run_id: Optional[str],
    since: Dict[str, Any],
    gpu: bool,
    gpu_of: Optional[str] = None,
    packed: bool = False,
) -> None:
    """Push run ``run_id``'s news (every GPU sample alone when None: this host's, or with
    ``gpu_of`` those of that run's Slurm job) on ``conn``, the daemon's Connection, until the
    run's last status or a cancel; the pump leaves ``conn.subs``. ``packed``: metric columns
    as ``wire.pack_column`` packs them (the client asked for that)."""
    service = conn.daemon.service
    log_pos = int(since.get("log", 0))
    metric_seq = int(since.get("metric", 0))
    ckpt_seq = int(since.get("checkpoint", 0))
    gpu_seq = int(since.get("gpu", 0))
    feed_of = run_id or gpu_of
    if gpu_seq < 0:
        # "latest only" (the cluster view): skip the hour of history kept for charts.
        feed = service.gpu_feed(feed_of)
        gpu_seq = max(0, feed[-1][0] - 1) if feed else 0
    last_status: Optional[str] = None  # with a Slurm run's reason: "pending Priority"
    loop = asyncio.get_event_loop()
    failures = 0
    quiet: Any = None  # the watcher's view of the log when a read of ours found nothing
    try:
        while True:
            try:
                sent = False
                if gpu:
                    for seq, sample in _after(service.gpu_feed(feed_of), gpu_seq):
                        await conn.send(event(sub_id, "gpu", run_id, seq, sample))
                        gpu_seq = seq
                if run_id is None:
                    await service.wait_gpu(5.0)
                    continue
                w = service.watcher(run_id)
                finished = w.finished  # read before the backlog, so nothing is left behind
                # The watcher polls the log: while its view is the one our last empty read
                # saw, there is nothing new to read (a GPU sample or a timeout woke us).
                f = w.followers.get(w.output_log)
                view = (
                    None
                    if f is None
                    else (f.inode, f.read_to, f.truncations, f.rotations, finished)
                )
                if view is None or view != quiet:
                    # Mostly the bytes the watcher's poll just read; else a read of the file,
                    # off the loop: a slow disk must not hold every other client up.
                    got = (
                        None
                        if f is None or finished
                        else chunk_from_last_read(f, f.inode, log_pos, LOG_BATCH)
                    )
                    if got is None:
                        got = await loop.run_in_executor(
                            None, read_chunk, w.output_log, log_pos, LOG_BATCH, finished
                        )
                    text, start, end = got
                    if end > start or start < log_pos:
                        # start < log_pos: the log was truncated in place; from its start.
                        data = {"offset": start, "text": text}
                        await conn.send(event(sub_id, "log", run_id, end, data))
                        log_pos, sent = end, True
                        if view is not None and end >= view[1]:
                            # All the watcher had seen is sent: a read again under this view
                            # would find nothing (a trip to a worker thread a poll, saved).
                            quiet = view
                    else:
                        quiet = view
                columns, last = w.metric_columns(metric_seq, SUB_BATCH, packed)
                if columns["count"]:
                    await conn.send(event(sub_id, "metric", run_id, last, columns))
                    metric_seq, sent = last, True
                for seq, ev in w.ckpt_events[ckpt_seq:]:
                    await conn.send(event(sub_id, "checkpoint", run_id, seq, ev))
                    ckpt_seq, sent = seq, True
                failures = 0
                status = w.summary.get("status")
                if sent:
                    continue
                shown = "{} {}".format(status, w.summary.get("slurm_reason") or "")
                if shown != last_status or finished:
                    done = dict(w.summary, complete=finished)
                    await conn.send(event(sub_id, "status", run_id, 0, done))
                    last_status = shown
                    if finished:
                        return
                if gpu and status == RUNNING:
                    await _news(1.0, w.listen, service.listen_gpu)
                else:
                    await w.wait(1.0)
            except (ConnectionError, OSError) as exc:
                if conn.writer.is_closing() or isinstance(exc, ConnectionError):
                    return
                failures = await _failed(conn, sub_id, exc, failures)
            except (asyncio.CancelledError, AgentError):
                raise
            except Exception as exc:  # an event that cannot be encoded, a bug: log, retry
                failures = await _failed(conn, sub_id, exc, failures)
    finally:
        conn.subs.pop(sub_id, None)


async def _news(timeout: float, *sources: Callable[["asyncio.Future[None]"], None]) -> None:
    """Until the first of ``sources`` has news (the watcher's poll, a GPU sample) or
    ``timeout``: one future that every source is given, no task per source, so a wake-up
    is one turn of the loop."""
    fut: asyncio.Future[None] = asyncio.get_event_loop().create_future()
    for listen in sources:
        listen(fut)
    await wait_set(fut, timeout)


def _after(
    samples: Sequence[Tuple[int, Dict[str, Any]]], seq: int
) -> List[Tuple[int, Dict[str, Any]]]:
    """The samples after ``seq`` (seqs ascend), found from the end: an hour of history is
    kept, and a subscriber wakes for each new sample."""
    new: List[Tuple[int, Dict[str, Any]]] = []
    for i in range(len(samples) - 1, -1, -1):
        if samples[i][0] <= seq:
            break
        new.append(samples[i])
    new.reverse()
    return new


async def _failed(conn: Any, sub_id: str, exc: BaseException, failures: int) -> int:
    conn.daemon.agent_log.exception(f"pump:{type(exc).__name__}", f"subscription {sub_id}", exc)
    await asyncio.sleep(backoff(failures))
    return failures + 1
