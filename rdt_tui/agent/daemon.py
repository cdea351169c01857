"""The per-user daemon: a Unix socket (0600, in a 0700 directory, peer uid checked), no TCP.

One request is one task, so a long ``stop`` or a subscription never blocks the others on the
same connection. A subscription pushes what came after the client's positions, pulled from the
stores each time news arrives, so a client that re-attaches with its last positions sees no gap
and no duplicate.
"""

import asyncio
import fcntl
import json
import os
import signal
import socket
import struct
import sys
import time
import traceback
from typing import Any, Dict, Optional, Set

from ..protocol import errors, wire
from ..protocol.errors import AgentError
from .files import CorruptFile, ensure_private_dir, write_atomic
from .runs import RUNNING
from .service import AgentService, read_log_chunk

SUB_BATCH = 20000
LOG_BATCH = 256 * 1024


def socket_path(root: str) -> str:
    return os.path.join(root, "agent.sock")


def peer_uid(sock: socket.socket) -> Optional[int]:
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):
        return None
    return struct.unpack("3i", creds)[1]


class Connection:
    def __init__(
        self, daemon: "Daemon", reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.daemon = daemon
        self.reader = reader
        self.writer = writer
        self.tasks: Set[asyncio.Task[None]] = set()
        self.subs: Dict[str, asyncio.Task[None]] = {}
        self._write_lock = asyncio.Lock()

    async def send(self, message: Dict[str, Any]) -> None:
        async with self._write_lock:
            self.writer.write(wire.encode(message))
            await self.writer.drain()

    async def serve(self) -> None:
        try:
            while True:
                try:
                    line = await self.reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self.send(wire.reply_error(None, errors.BAD_REQUEST, "line too long"))
                    break
                if not line:
                    break
                msg = wire.decode_line(line)
                if msg is None or "op" not in msg:
                    continue
                task = asyncio.get_event_loop().create_task(self.handle(msg))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        except (ConnectionError, OSError):
            pass
        finally:
            for task in list(self.tasks) + list(self.subs.values()):
                task.cancel()
            try:
                self.writer.close()
            except Exception:
                pass

    async def handle(self, msg: Dict[str, Any]) -> None:
        req_id = msg.get("id")
        op = str(msg.get("op"))
        raw_args = msg.get("args")
        args: Dict[str, Any] = raw_args if isinstance(raw_args, dict) else {}
        try:
            if op == "subscribe":
                result: Any = self.subscribe(str(req_id), args)
            elif op == "unsubscribe":
                task = self.subs.pop(str(args.get("sub")), None)
                if task:
                    task.cancel()
                result = {"unsubscribed": task is not None}
            elif op == "shutdown":
                result = {"stopping": True}
                asyncio.get_event_loop().call_later(0.05, self.daemon.stop)
            else:
                handler = getattr(self.daemon.service, "op_" + op, None)
                if handler is None:
                    raise AgentError(
                        errors.UNKNOWN_OP,
                        f"unknown operation {op!r}",
                        "the console and agent versions differ; reconnect",
                    )
                result = await handler(args)
            reply = wire.reply_ok(req_id, result)
        except AgentError as exc:
            reply = {"id": req_id, "ok": False, "error": exc.to_dict()}
        except CorruptFile as exc:
            reply = wire.reply_error(
                req_id,
                errors.STATE_CORRUPT,
                str(exc),
                "the file was left as it is for you to inspect",
            )
        except (ValueError, TypeError, KeyError) as exc:
            reply = wire.reply_error(req_id, errors.BAD_REQUEST, f"bad arguments for {op}: {exc}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the daemon stays up whatever one request does
            traceback.print_exc()
            reply = wire.reply_error(
                req_id,
                errors.INTERNAL,
                f"{type(exc).__name__}: {exc}",
                "see agent.log in the agent's state directory",
            )
        try:
            await self.send(reply)
        except (ConnectionError, OSError):
            pass

    # ----- subscriptions -----------------------------------------------------------------
    def subscribe(self, sub_id: str, args: Dict[str, Any]) -> Dict[str, Any]:
        run_id = args.get("run")
        since = args.get("since") or {}
        if run_id is not None:
            self.daemon.service.watcher(str(run_id))  # raises for an unknown run
        task = asyncio.get_event_loop().create_task(
            self._pump(
                sub_id,
                None if run_id is None else str(run_id),
                since,
                bool(args.get("gpu", run_id is None)),
            )
        )
        self.subs[sub_id] = task
        return {"sub": sub_id}

    @staticmethod
    def _event(sub_id: str, name: str, run: Optional[str], seq: int, data: Any) -> Dict[str, Any]:
        msg = wire.event(name, run, seq, data)
        msg["sub"] = sub_id  # which subscription it feeds, when a client holds several
        return msg

    async def _pump(
        self, sub_id: str, run_id: Optional[str], since: Dict[str, Any], gpu: bool
    ) -> None:
        service = self.daemon.service
        log_pos = int(since.get("log", 0))
        metric_seq = int(since.get("metric", 0))
        ckpt_seq = int(since.get("checkpoint", 0))
        gpu_seq = int(since.get("gpu", 0))
        if gpu_seq < 0:
            # "latest only" (the cluster view): skip the hour of history kept for charts.
            gpu_seq = max(0, service.gpu_seq - 1)
        last_status: Optional[str] = None
        try:
            while True:
                sent = False
                if gpu:
                    for seq, sample in list(service.gpu_samples):
                        if seq > gpu_seq:
                            await self.send(self._event(sub_id, "gpu", run_id, seq, sample))
                            gpu_seq = seq
                if run_id is None:
                    await service.wait_gpu(5.0)
                    continue
                w = service.watcher(run_id)
                finished = w.finished  # read before the backlog, so nothing is left behind
                text, end = read_log_chunk(w.output_log, log_pos, LOG_BATCH, finished)
                if end > log_pos:
                    await self.send(
                        self._event(sub_id, "log", run_id, end, {"offset": log_pos, "text": text})
                    )
                    log_pos, sent = end, True
                columns, last = w.metric_columns(metric_seq, SUB_BATCH)
                if columns["count"]:
                    await self.send(self._event(sub_id, "metric", run_id, last, columns))
                    metric_seq, sent = last, True
                for seq, ev in w.ckpt_events[ckpt_seq:]:
                    await self.send(self._event(sub_id, "checkpoint", run_id, seq, ev))
                    ckpt_seq, sent = seq, True
                status = w.summary.get("status")
                if sent:
                    continue
                if status != last_status or finished:
                    await self.send(
                        self._event(sub_id, "status", run_id, 0, dict(w.summary, complete=finished))
                    )
                    last_status = status
                    if finished:
                        return
                if gpu and status == RUNNING:
                    waits = [
                        asyncio.ensure_future(w.wait(1.0)),
                        asyncio.ensure_future(service.wait_gpu(1.0)),
                    ]
                    _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    for p in pending:
                        p.cancel()
                else:
                    await w.wait(1.0)
        except (ConnectionError, OSError):
            return
        finally:
            self.subs.pop(sub_id, None)


class Daemon:
    def __init__(self, root: str, service: AgentService) -> None:
        self.root = root
        self.service = service
        self._server: Optional[asyncio.AbstractServer] = None
        self._stopped: Optional[asyncio.Future[None]] = None
        self._background: Set[asyncio.Task[None]] = set()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is None or peer_uid(sock) != os.getuid():
            writer.write(
                wire.encode(
                    wire.reply_error(
                        None, "permission_denied", "this agent serves only its own user"
                    )
                )
            )
            try:
                await writer.drain()
            except (ConnectionError, OSError):
                pass
            writer.close()
            log("refused a connection from uid {}".format(peer_uid(sock) if sock else "?"))
            return
        await Connection(self, reader, writer).serve()

    async def run(self) -> None:
        loop = asyncio.get_event_loop()
        self._stopped = loop.create_future()
        path = socket_path(self.root)
        if os.path.exists(path):
            os.unlink(path)  # stale: we hold the lock, so no live daemon owns it
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._client, path=path, limit=wire.MAX_LINE
            )
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        write_atomic(os.path.join(self.root, "agent.pid"), str(os.getpid()).encode())
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, self.stop)
        adopted = self.service.adopt()
        log(
            "daemon {} serving {} (adopted: {})".format(
                os.getpid(), path, ", ".join(adopted) or "none"
            )
        )
        task = loop.create_task(self.service.gpu_loop())
        self._background.add(task)
        await self._stopped
        self._server.close()
        for t in self._background:
            t.cancel()
        try:
            os.unlink(path)
        except OSError:
            pass

    def stop(self) -> None:
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)


def log(message: str) -> None:
    sys.stderr.write(json.dumps({"t": time.time(), "msg": message}) + "\n")
    sys.stderr.flush()


def run_daemon(root: str, shim_cmd: list, simulate_gpus: int = 0, gpu_interval: float = 1.0) -> int:
    ensure_private_dir(root)
    lock_fd = os.open(os.path.join(root, "agent.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        log(f"another daemon already serves {root}")
        return 0
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    service = AgentService(root, shim_cmd, simulate_gpus, gpu_interval)
    try:
        loop.run_until_complete(Daemon(root, service).run())
    finally:
        loop.close()
        os.close(lock_fd)
    return 0
