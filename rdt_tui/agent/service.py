"""What the agent can do, one coroutine per protocol op; the daemon routes requests here."""

import asyncio
import collections
import os
import signal
import socket
import sys
import time
from typing import Any, Deque, Dict, List, Optional, Tuple

from ..protocol import errors
from ..protocol.errors import AgentError
from ..protocol.wire import PROTOCOL_VERSION
from . import ckptscan
from .build import build_hash
from .files import CorruptFile
from .gpu import MIN_INTERVAL, GpuBackend, RunOfPid, open_backend
from .hoststats import CpuMeter, host_sample
from .preflight_ops import PreflightOps
from .procs import marked_processes, signal_all, signal_number
from .runs import RUNNING, RunStore, gpus_overlap, validate_launch
from .watch import RunWatcher

TERM_GRACE_S = 5.0
GPU_HISTORY = 3600


class AgentService(PreflightOps):
    def __init__(
        self, root: str, shim_cmd: List[str], simulate_gpus: int = 0, gpu_interval: float = 1.0
    ) -> None:
        self.root = root
        self.shim_cmd = shim_cmd
        self.store = RunStore(root)
        self.watchers: Dict[str, RunWatcher] = {}
        self.simulate_gpus = simulate_gpus
        self.gpu_interval = max(MIN_INTERVAL, gpu_interval)
        self.gpu_backend: Optional[GpuBackend] = None
        self.gpu_reason = ""
        self.gpu_samples: Deque[Tuple[int, Dict[str, Any]]] = collections.deque(maxlen=GPU_HISTORY)
        self.gpu_seq = 0
        self._gpu_waiters: List[asyncio.Future[None]] = []
        self._stops: Dict[str, asyncio.Task[Dict[str, Any]]] = {}
        self._launch_lock = asyncio.Lock()
        self._cpu = CpuMeter()
        self._run_of = RunOfPid()
        self.started_at = time.time()
        self._manifests: Dict[str, Tuple[int, int]] = {}

    # ----- lifecycle ---------------------------------------------------------------------
    def adopt(self) -> List[str]:
        """Watch every run still alive (after a daemon restart, say); their ids."""
        adopted = []
        for summary in self.store.summaries():
            if summary["status"] == RUNNING:
                self.watcher(summary["id"])
                adopted.append(summary["id"])
        return adopted

    def watcher(self, run_id: str) -> RunWatcher:
        w = self.watchers.get(run_id)
        if w is None:
            try:
                w = RunWatcher(self.store, run_id)
            except CorruptFile as exc:
                raise AgentError(
                    errors.STATE_CORRUPT,
                    str(exc),
                    "the run's files are damaged; its output.log is kept as it was",
                ) from None
            self.watchers[run_id] = w
            w.start()
        return w

    async def gpu_loop(self) -> None:
        loop = asyncio.get_event_loop()
        self.gpu_backend, self.gpu_reason = await loop.run_in_executor(
            None, open_backend, self.simulate_gpus
        )
        while True:
            started = time.monotonic()
            sample = await loop.run_in_executor(None, self._sample_gpus)
            self.gpu_seq += 1
            self.gpu_samples.append((self.gpu_seq, sample))
            waiters, self._gpu_waiters = self._gpu_waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
            self.store.reap()
            # The next sample is scheduled after this one finished: polls never overlap.
            await asyncio.sleep(max(0.0, self.gpu_interval - (time.monotonic() - started)))

    def _sample_gpus(self) -> Dict[str, Any]:
        sample: Dict[str, Any] = {
            "t": time.time(),
            "simulated": False,
            "backend": "none",
            "gpus": [],
            "reason": self.gpu_reason,
        }
        backend = self.gpu_backend
        if backend is not None:
            sample["backend"] = backend.name
            sample["simulated"] = backend.simulated
            try:
                sample["gpus"] = backend.sample(self._run_of)
            except Exception as exc:  # a driver hiccup must not kill telemetry
                sample["reason"] = f"GPU query failed: {exc}"
        sample["host"] = host_sample(self._cpu, self.root)
        return sample

    async def wait_gpu(self, timeout: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_event_loop().create_future()
        self._gpu_waiters.append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            pass

    def host_gpu_ids(self) -> List[str]:
        if not self.gpu_samples:
            return []
        return [str(g["index"]) for g in self.gpu_samples[-1][1]["gpus"]]

    # ----- ops ---------------------------------------------------------------------------
    async def op_hello(self, args: Dict[str, Any]) -> Dict[str, Any]:
        return {
            "protocol": PROTOCOL_VERSION,
            "build": build_hash(),
            "pid": os.getpid(),
            "uid": os.getuid(),
            "hostname": socket.gethostname(),
            "python": sys.version.split()[0],
            "python_executable": sys.executable,
            "state_dir": self.root,
            "simulated_gpus": self.simulate_gpus,
            "started_at": self.started_at,
        }

    async def op_runs(self, args: Dict[str, Any]) -> List[Dict[str, Any]]:
        loop = asyncio.get_event_loop()
        return await loop.run_in_executor(None, self.store.summaries)

    async def op_status(self, args: Dict[str, Any]) -> Dict[str, Any]:
        run_id = str(args.get("run"))
        loop = asyncio.get_event_loop()
        summary = await loop.run_in_executor(None, self.store.summary, run_id)
        if args.get("progress"):
            w = self.watcher(summary["id"])
            summary["metrics_seq"] = w.metrics.last_seq
        return summary

    async def op_launch(self, args: Dict[str, Any]) -> Dict[str, Any]:
        spec = validate_launch(args)
        async with self._launch_lock:
            key = spec.get("request_key")
            if key:
                existing = self.store.find_by_request_key(str(key))
                if existing:
                    return dict(self.store.summary(existing), existing=True)
            if not args.get("force"):
                self._check_gpus_free(spec.get("gpus"))
            run_id = self.store.create(spec)
            self.store.start_shim(run_id, self.shim_cmd)
        run_dir = self.store.run_dir(run_id)
        for _ in range(500):  # the shim writes state.json as soon as the job has a pid
            if os.path.exists(os.path.join(run_dir, "state.json")):
                break
            await asyncio.sleep(0.02)
        self.watcher(run_id)
        return self.store.summary(run_id)

    def _check_gpus_free(self, gpus: Optional[List[str]]) -> None:
        host = self.host_gpu_ids()
        for other in self.store.live_runs():
            shared = gpus_overlap(gpus, other.get("gpus"), host)
            if shared:
                raise AgentError(
                    errors.GPUS_BUSY,
                    "GPU {} already used by live run {}".format(",".join(shared), other["id"]),
                    "stop that run, pick other GPUs, or launch with --force",
                )

    async def op_stop(self, args: Dict[str, Any]) -> Dict[str, Any]:
        run_id = str(args.get("run"))
        summary = self.store.summary(run_id)
        grace = float(args.get("grace", 30.0))
        try:
            sig = signal_number(
                str(args.get("signal") or self.store.spec(run_id).get("stop_signal") or "SIGINT")
            )
        except (ValueError, CorruptFile) as exc:
            raise AgentError(errors.BAD_REQUEST, str(exc), "use a name such as SIGINT") from None
        if summary["status"] != RUNNING:
            return dict(summary, already_ended=True)
        task = self._stops.get(run_id)
        if task is None or task.done():
            task = asyncio.get_event_loop().create_task(self._escalate(run_id, sig, grace))
            self._stops[run_id] = task
        return await asyncio.shield(task)

    def _run_pids(self, run_id: str) -> List[int]:
        return marked_processes([run_id]).get(run_id, [])

    async def _escalate(self, run_id: str, sig: int, grace: float) -> Dict[str, Any]:
        """The run's signal (SIGINT), a grace period, SIGTERM, then SIGKILL until none is left."""
        loop = asyncio.get_event_loop()
        self.store.mark_stop(run_id, sig, grace)
        steps = [(sig, grace), (signal.SIGTERM, TERM_GRACE_S)]
        for step_sig, wait in steps:
            pids = await loop.run_in_executor(None, self._run_pids, run_id)
            if not pids:
                break
            signal_all(pids, step_sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                if not await loop.run_in_executor(None, self._run_pids, run_id):
                    break
        while True:
            pids = await loop.run_in_executor(None, self._run_pids, run_id)
            if not pids:
                break
            signal_all(pids, signal.SIGKILL)
            await asyncio.sleep(0.05)
        state_path = os.path.join(self.store.run_dir(run_id), "exit.json")
        for _ in range(100):  # the shim records the exit right after its child is gone
            if os.path.exists(state_path):
                break
            await asyncio.sleep(0.05)
        return self.store.summary(run_id)

    async def op_tail(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """The last ``lines`` lines of output.log, and the offset to follow from."""
        path = os.path.join(self.store.run_dir(str(args.get("run"))), "output.log")
        want = max(0, int(args.get("lines", 50)))
        return await asyncio.get_event_loop().run_in_executor(None, tail_file, path, want)

    async def op_log(self, args: Dict[str, Any]) -> Dict[str, Any]:
        path = os.path.join(self.store.run_dir(str(args.get("run"))), "output.log")
        offset = max(0, int(args.get("since", 0)))
        w = self.watcher(str(args.get("run")))
        text, end = read_log_chunk(path, offset, int(args.get("limit", 1 << 20)), w.finished)
        return {"offset": offset, "end": end, "text": text}

    async def op_metrics(self, args: Dict[str, Any]) -> Dict[str, Any]:
        w = self.watcher(str(args.get("run")))
        if args.get("wait") == "ended" and self.store.summary(w.run_id)["status"] != RUNNING:
            # A run that has ended: answer once its logs are parsed to the end.
            await w.until_finished()
        columns, last = w.metric_columns(int(args.get("since", 0)), int(args.get("limit", 100000)))
        return dict(columns, last_seq=last, finished=w.finished, problems=w.events.problems)

    async def op_history(self, args: Dict[str, Any]) -> Dict[str, Any]:
        w = self.watcher(str(args.get("run")))
        names = args.get("names")
        result = w.metrics.history(
            names if isinstance(names, list) else None, max(2, int(args.get("points", 500)))
        )
        result["finished"] = w.finished
        for name, col in result["series"].items():
            col["source"] = w.events.source(name)
        return result

    async def op_checkpoints(self, args: Dict[str, Any]) -> Dict[str, Any]:
        run_id = str(args.get("run"))
        spec = self.store.spec(run_id)
        directory = os.path.expanduser(spec.get("checkpoint_dir") or spec.get("cwd") or "/")
        return await asyncio.get_event_loop().run_in_executor(
            None, ckptscan.listing, directory, spec.get("checkpoint_globs") or ()
        )

    async def op_gpus(self, args: Dict[str, Any]) -> Dict[str, Any]:
        since = int(args.get("since", 0))
        if not self.gpu_samples:
            await self.wait_gpu(5.0)
        samples = [{"seq": seq, **s} for seq, s in self.gpu_samples if seq > since]
        limit = int(args.get("limit", 1))
        return {
            "samples": samples[-limit:] if limit > 0 else samples,
            "interval": self.gpu_interval,
        }


def tail_file(path: str, lines: int) -> Dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            block, data = 65536, b""
            pos = end
            while pos > 0 and data.count(b"\n") + data.count(b"\r") <= lines:
                step = min(block, pos)
                pos -= step
                fh.seek(pos)
                data = fh.read(step) + data
    except FileNotFoundError:
        return {"lines": [], "end": 0}
    text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    out = text.split("\n")
    if out and out[-1] == "":
        out.pop()
    return {"lines": out[-lines:] if lines else [], "end": end}


def read_log_chunk(path: str, offset: int, limit: int, final: bool = False) -> Tuple[str, int]:
    """Whole lines from ``offset``, at most ``limit`` bytes, and the offset after them.

    A trailing partial line is held back (it may be a UTF-8 character cut in two) unless the
    run has ended (``final``) or one line alone is longer than ``limit``.
    """
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(limit)
    except FileNotFoundError:
        return "", offset
    if not final or len(data) == limit:
        cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if cut >= 0:
            data = data[: cut + 1]
        elif len(data) < limit:
            data = b""
    return data.decode("utf-8", "replace"), offset + len(data)
