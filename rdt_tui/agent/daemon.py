"""The per-user daemon: a Unix socket (0600, in a 0700 directory, peer uid checked), no TCP.

One request is one task, so a long ``stop`` or a subscription never blocks the others on the
same connection. A subscription pushes what came after the client's positions, pulled from the
stores each time news arrives, so a client that re-attaches with its last positions sees no gap
and no duplicate.
"""

import asyncio
import fcntl
import os
import signal
import time
from typing import Any, Dict, Optional, Set, Tuple

from ..protocol import errors, wire
from ..protocol.errors import AgentError
from . import cgroups, subscription
from .files import CorruptFile, ensure_private_dir, write_atomic
from .ops import Op, op_table, unknown_op
from .peer import peer_uid, socket_path
from .procs import PRIVATE_ENV
from .service import AgentService
from .supervise import AgentLog, on_the_tick, supervised

# Requests a connection may have in flight; beyond it the connection is cut.
MAX_UNANSWERED = 256


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as "nan", "inf", "-inf" and unknown objects as text."""
    if isinstance(value, float):
        return wire.encode_float(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


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
        self._ops: Optional[Dict[str, Op]] = None

    async def send(self, message: Dict[str, Any]) -> None:
        try:
            data = wire.encode(message)
        except (ValueError, TypeError):
            # An event with a NaN (a GPU that reports none) or a value JSON has no form for:
            # sent with those spelled as strings, as metric values are, rather than never.
            data = wire.encode(json_safe(message))
        await self.send_bytes(data)

    async def send_bytes(self, data: bytes) -> None:
        async with self._write_lock:
            self.writer.write(data)
            await self.writer.drain()

    async def serve(self) -> None:
        try:
            while True:
                try:
                    line = await self.reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self._refuse(errors.BAD_REQUEST, "line too long")
                    break
                if not line:
                    break
                msg = wire.decode_line(line)
                if msg is None or "op" not in msg:
                    continue
                if len(self.tasks) >= MAX_UNANSWERED:
                    # A client that sends without reading: each request would wait here, and
                    # the daemon would grow by one task per line until it is gone.
                    self.daemon.agent_log.error(
                        "unanswered", f"dropped a connection with {len(self.tasks)} unanswered"
                    )
                    await self._refuse(
                        errors.TOO_MANY_REQUESTS,
                        f"over {MAX_UNANSWERED} requests unanswered on this connection",
                        "read the replies before sending more requests",
                    )
                    break
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

    async def _refuse(self, code: str, message: str, hint: str = "") -> None:
        """A last error line, then the connection is cut even if the peer reads nothing."""
        data = wire.encode(wire.reply_error(None, code, message, hint))
        try:
            # Through the lock: a second drain beside a blocked one is an error before 3.10.
            await asyncio.wait_for(self.send_bytes(data), 1.0)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass
        self.writer.transport.abort()

    async def handle(self, msg: Dict[str, Any]) -> None:
        req_id = msg.get("id")
        op = str(msg.get("op"))
        raw_args = msg.get("args")
        args: Dict[str, Any] = raw_args if isinstance(raw_args, dict) else {}
        try:
            entry = self.ops.get(op)
            if entry is None:
                raise unknown_op(op)
            if entry.streams:
                result: Any = entry.handler(str(req_id), args)
            else:
                result = await entry.handler(args)
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
        except BaseException as exc:  # the daemon stays up whatever one request does
            self.daemon.agent_log.exception(f"op:{op}:{type(exc).__name__}", f"op {op}", exc)
            reply = wire.reply_error(
                req_id,
                errors.INTERNAL,
                f"{type(exc).__name__}: {exc}",
                "see agent.log in the agent's state directory",
            )
        await self._answer(req_id, op, reply)

    async def _answer(self, req_id: Any, op: str, reply: Dict[str, Any]) -> None:
        """Send ``reply``; one that cannot be encoded (a NaN, an object JSON has no form
        for) is answered with an error instead, so no request is left waiting."""
        try:
            data = wire.encode(reply)
        except (ValueError, TypeError, RecursionError) as exc:
            self.daemon.agent_log.error(f"unencodable:{op}", f"reply to {op} unencodable: {exc}")
            reply = wire.reply_error(
                req_id,
                errors.UNENCODABLE,
                f"the agent's answer to {op} cannot be sent: {exc}",
                "a value such as NaN or infinity is in the result; check the input it was "
                "computed from",
            )
            data = wire.encode(reply)
        try:
            await self.send_bytes(data)
        except (ConnectionError, OSError):
            pass

    # ----- the connection's own ops (agent/ops.py) ------------------------------------------
    @property
    def ops(self) -> Dict[str, Op]:
        if self._ops is None:
            self._ops = op_table(self.daemon.service, self)
        return self._ops

    async def op_unsubscribe(self, args: Dict[str, Any]) -> Dict[str, Any]:
        task = self.subs.pop(str(args.get("sub")), None)
        if task:
            task.cancel()
        return {"unsubscribed": task is not None}

    async def op_shutdown(self, args: Dict[str, Any]) -> Dict[str, Any]:
        asyncio.get_event_loop().call_later(0.05, self.daemon.stop)
        return {"stopping": True}

    def op_subscribe(self, sub_id: str, args: Dict[str, Any]) -> Dict[str, Any]:
        """A stream: the run's news pushed by agent/subscription.py from now on."""
        run_id = args.get("run")
        since = args.get("since") or {}
        gpu_of = args.get("gpu_of")  # GPUs only, those of this run (a Slurm job's nodes)
        for run in (run_id, gpu_of):
            if run is not None:
                self.daemon.service.watcher(str(run))  # raises for an unknown run
        task = asyncio.get_event_loop().create_task(
            subscription.pump(
                self,
                sub_id,
                None if run_id is None else str(run_id),
                since,
                bool(args.get("gpu", run_id is None)),
                None if gpu_of is None or run_id is not None else str(gpu_of),
                bool(args.get("packed")),
            )
        )
        self.subs[sub_id] = task
        return {"sub": sub_id}


# How often the daemon checks that its socket and lock are still the files clients find.
SOCKET_CHECK_S = 2.0


def _file_id(path: str) -> Optional[Tuple[int, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class Daemon:
    def __init__(self, root: str, service: AgentService, lock_fd: Optional[int] = None) -> None:
        self.root = root
        self.service = service
        self.agent_log: AgentLog = service.log
        self._lock_id = (
            None if lock_fd is None else (os.fstat(lock_fd).st_dev, os.fstat(lock_fd).st_ino)
        )
        self._sock_id: Optional[Tuple[int, int]] = None
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
            self.agent_log.error(
                "refused",
                "refused a connection from uid {}".format(peer_uid(sock) if sock else "?"),
            )
            return
        await Connection(self, reader, writer).serve()

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: Dict[str, Any]) -> None:
        """asyncio's own reports (an accept that failed for want of descriptors, a task that
        died): into agent.log, each kind once a minute however often it happens."""
        exc = context.get("exception")
        message = str(context.get("message") or "asyncio error")
        if exc is not None:
            key = f"loop:{message}:{type(exc).__name__}"
            self.agent_log.exception(key, message, exc)
        else:
            self.agent_log.error(f"loop:{message}", message)

    async def run(self) -> None:
        loop = asyncio.get_event_loop()
        loop.set_exception_handler(self._loop_error)
        self._stopped = loop.create_future()
        path = socket_path(self.root)
        await self._listen(path)
        write_atomic(os.path.join(self.root, "agent.pid"), str(os.getpid()).encode())
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, self.stop)
        adopted = self.service.adopt()
        self.agent_log.info(
            "daemon {} serving {} (adopted: {})".format(
                os.getpid(), path, ", ".join(adopted) or "none"
            )
        )
        task = loop.create_task(supervised("GPU sampler", self.service.gpu_loop, self.agent_log))
        self._background.add(task)
        # The alert rules run whether or not a console is attached.
        alerts = supervised("alert engine", self.service.alert_loop, self.agent_log)
        self._background.add(loop.create_task(alerts))
        keep = supervised("socket keeper", lambda: self._keep_socket(path), self.agent_log)
        self._background.add(loop.create_task(keep))
        await self._stopped
        if self._server is not None:
            self._server.close()
        for t in self._background:
            t.cancel()
        try:
            os.unlink(path)
        except OSError:
            pass

    async def _listen(self, path: str) -> None:
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
        self._sock_id = _file_id(path)

    async def _keep_socket(self, path: str) -> None:
        """A socket file removed (a cleanup, an `rm` of the wrong file) would leave this daemon
        unreachable for good: the next attach finds no socket, and the daemon it starts finds
        the lock held. So: listen again. A state directory removed or made anew (its lock no
        longer ours) means this daemon is an orphan: it ends."""
        while True:
            await asyncio.sleep(on_the_tick(SOCKET_CHECK_S, time.monotonic()))
            if _file_id(path) == self._sock_id:
                continue
            lock = os.path.join(self.root, "agent.lock")
            if self._lock_id is not None and _file_id(lock) != self._lock_id:
                self.agent_log.info(f"{self.root} is gone or not ours any more: the daemon ends")
                self.stop()
                return
            self.agent_log.info(f"socket {path} was removed: listening again")
            old = self._server
            await self._listen(path)
            if old is not None:
                old.close()

    def stop(self) -> None:
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)


def run_daemon(root: str, shim_cmd: list, simulate_gpus: int = 0, gpu_interval: float = 1.0) -> int:
    ensure_private_dir(root)
    agent_log = AgentLog(os.path.join(root, "agent.log"))
    # Started from inside a run: that run's marker and cgroup are not ours, nor our shims'.
    for name in PRIVATE_ENV:
        os.environ.pop(name, None)
    cgroups.leave_runs()
    lock_fd = os.open(os.path.join(root, "agent.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        agent_log.info(f"another daemon already serves {root}")
        return 0
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    service = AgentService(root, shim_cmd, simulate_gpus, gpu_interval, agent_log)
    try:
        loop.run_until_complete(Daemon(root, service, lock_fd).run())
    finally:
        loop.close()
        os.close(lock_fd)
    return 0
