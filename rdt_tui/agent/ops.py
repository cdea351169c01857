"""Every operation the agent answers, in one table: its name, the coroutine that answers it,
and whether it streams (answers at once, then pushes events on the connection until it is
unsubscribed or the connection closes).

The handlers live beside what they touch (``service.py``, ``adopt.py``, ``alert_ops.py``,
``preflight_ops.py``; the connection's own ops in ``daemon.py``), but only the ops named here
can be called: a new op is a handler and a line below. A name not here is refused with
``unknown_op``.
"""

from typing import Any, Callable, Dict, NamedTuple

from ..protocol import errors
from ..protocol.errors import AgentError


class Op(NamedTuple):
    """``handler``: ``async (args) -> result``; a streaming op's is ``(stream id, args) ->
    result``, called on the loop, which starts the stream and answers at once."""

    handler: Callable[..., Any]
    streams: bool = False


def op_table(service: Any, conn: Any) -> Dict[str, Op]:
    """The ops of one connection (``daemon.Connection``) to ``service`` (``AgentService``);
    both are untyped here so that this table imports neither."""
    s = service
    return {
        # the daemon and the host
        "hello": Op(s.op_hello),
        "gpus": Op(s.op_gpus),
        "queue": Op(s.op_queue),
        "shutdown": Op(conn.op_shutdown),
        # runs
        "runs": Op(s.op_runs),
        "status": Op(s.op_status),
        "launch": Op(s.op_launch),
        "stop": Op(s.op_stop),
        "candidates": Op(s.op_candidates),
        "adopt": Op(s.op_adopt),
        # what a run writes
        "subscribe": Op(conn.op_subscribe, streams=True),
        "unsubscribe": Op(conn.op_unsubscribe),
        "tail": Op(s.op_tail),
        "log": Op(s.op_log),
        "log_search": Op(s.op_log_search),
        "metrics": Op(s.op_metrics),
        "history": Op(s.op_history),
        "checkpoints": Op(s.op_checkpoints),
        # alerts
        "alerts": Op(s.op_alerts),
        "notify": Op(s.op_notify),
        # before a run: preflight, datasets
        "preflight": Op(s.op_preflight),
        "fix": Op(s.op_fix),
        "manifest": Op(s.op_manifest),
        "manifest_progress": Op(s.op_manifest_progress),
        "stats": Op(s.op_stats),
    }


def unknown_op(name: str) -> AgentError:
    return AgentError(
        errors.UNKNOWN_OP,
        f"unknown operation {name!r}",
        "the console and agent versions differ; reconnect",
    )
