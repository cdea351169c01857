"""What the agent can do, one coroutine per protocol op; ``agent/ops.py`` is the table the daemon
routes requests by."""

import asyncio
import collections
import os
import pwd
import signal
import socket
import sys
import time
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple

from ..protocol import errors
from ..protocol.errors import AgentError
from ..protocol.wire import PROTOCOL_VERSION
from . import cgroups, ckptscan, stopper
from .adopt import AdoptOps, RunOfTree
from .alert_ops import AlertOps
from .build import build_hash
from .files import CorruptFile, read_json
from .follower import read_chunk, tail_lines
from .gpu import MIN_INTERVAL, GpuBackend, open_backend
from .hoststats import CpuMeter, host_sample
from .logsearch import log_search
from .preflight_ops import PreflightOps
from .procs import read_proc, signal_all, signal_number
from .runs import RUNNING, RunStore
from .runspec import gpus_overlap, validate_launch
from .slurm_gpus import JobGpusTable
from .supervise import AgentLog, on_the_tick
from .supervisor import LIVE, supervisors
from .wake import wait_set
from .watch import RunWatcher

TERM_GRACE_S = 5.0
GPU_HISTORY = 3600


class AgentService(PreflightOps, AlertOps, AdoptOps):
    def __init__(
        self,
        root: str,
        shim_cmd: List[str],
        simulate_gpus: int = 0,
        gpu_interval: float = 1.0,
        log: Optional[AgentLog] = None,
    ) -> None:
        self.root = root
        self.log = log or AgentLog()
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
        self._run_of = RunOfTree(self.store)  # marker, else an adopted run's tree
        self.started_at = time.time()
        self._manifests: Dict[str, Tuple[int, int]] = {}
        self.supervisors = supervisors(self.store, shim_cmd, self._escalate)
        # GPUs of Slurm jobs' nodes, from a sampler step inside each allocation
        self.job_gpus = JobGpusTable(shim_cmd, simulate_gpus, self.gpu_interval, self._wake_gpu)

    # ----- lifecycle ---------------------------------------------------------------------
    def adopt(self) -> List[str]:
        """Watch every run still alive (after a daemon restart, say); their ids."""
        adopted = []
        for summary in self.store.summaries():
            if summary["status"] in LIVE:
                self.watcher(summary["id"])
                adopted.append(summary["id"])
                if summary.get("stop_requested") and summary.get("slurm_job_id") is None:
                    self._resume_stop(summary["id"])
                elif summary.get("stop_requested"):  # a Slurm stop cut mid-grace: the cancel
                    resume = self.supervisors["slurm"].resume_stop(summary["id"])
                    self._stops[summary["id"]] = asyncio.get_event_loop().create_task(resume)
            else:  # a shim that was killed could not remove its run's (empty) cgroup
                state = self.store.summary_state(summary["id"])
                cgroups.remove(cgroups.of_run(state.get("cgroup"), summary["id"]))
        return adopted

    def _resume_stop(self, run_id: str) -> None:
        """Carry on a stop that an earlier daemon began (it was replaced or killed in the
        middle): the rest of its grace period, then the escalation, as if never cut."""
        try:
            info = read_json(os.path.join(self.store.run_dir(run_id), "stop.json")) or {}
            if not isinstance(info, dict):
                raise TypeError("stop.json is not an object")
            sig = int(info.get("signal") or signal.SIGINT)
            left = float(info.get("requested_at", 0)) + float(info.get("grace", 0)) - time.time()
        except (CorruptFile, TypeError, ValueError):
            sig, left = int(signal.SIGTERM), 0.0
        task = asyncio.get_event_loop().create_task(
            self._escalate(run_id, sig, max(0.0, left), RUNNING)
        )
        self._stops[run_id] = task

    def watcher(self, run_id: str) -> RunWatcher:
        w = self.watchers.get(run_id)
        if w is None:
            try:
                w = RunWatcher(self.store, run_id, self.log)
            except CorruptFile as exc:
                raise AgentError(
                    errors.STATE_CORRUPT,
                    str(exc),
                    "the run's files are damaged; its output.log is kept as it was",
                ) from None
            self.watchers[run_id] = w
            w.on_poll = self.alert_engine().polled
            w.start()
        return w

    async def gpu_loop(self) -> None:
        try:
            await self._gpu_loop()
        finally:  # the daemon stops: the sampler steps inside Slurm jobs end with it
            self.job_gpus.close()

    def _wake_gpu(self) -> None:
        waiters, self._gpu_waiters = self._gpu_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def gpu_feed(self, run_id: Optional[str]) -> Sequence[Tuple[int, Dict[str, Any]]]:
        """The GPU samples a subscription streams: this host's, or for a Slurm run its job's
        nodes' (agent/slurm_gpus.py)."""
        w = self.watchers.get(run_id) if run_id else None
        if w is None or not w.summary.get("slurm_job_id"):
            return self.gpu_samples
        run, spec = w.run_id, self.store.spec
        return self.job_gpus.feed(w.summary, lambda: spec(run).get("slurm") or {})

    async def _gpu_loop(self) -> None:
        loop = asyncio.get_event_loop()
        self.gpu_backend, self.gpu_reason = await loop.run_in_executor(
            None, open_backend, self.simulate_gpus
        )
        while True:
            sample = await loop.run_in_executor(None, self._sample_gpus)
            self.gpu_seq += 1
            self.gpu_samples.append((self.gpu_seq, sample))
            self._wake_gpu()
            self.store.reap()
            self.job_gpus.reap()
            # The next sample is scheduled after this one finished: polls never overlap. On
            # the tick the watchers poll on: one wake-up of the loop for all of them.
            await asyncio.sleep(on_the_tick(self.gpu_interval, time.monotonic()))

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

    def listen_gpu(self, fut: "asyncio.Future[None]") -> None:
        """``fut`` gets a result at the next GPU sample (unless it is done by then)."""
        self._gpu_waiters.append(fut)

    async def wait_gpu(self, timeout: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_event_loop().create_future()
        self._gpu_waiters.append(fut)
        await wait_set(fut, timeout)  # not wait_for: a cancel must end the wait (wake.py)

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
            # attach keeps a daemon with live runs whatever GPU simulation was asked for
            "live_runs": sum(1 for w in self.watchers.values() if not w.finished),
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
        # In a worker: it reads the cwd, checkpoint and log globs (a hung file server's).
        spec = await asyncio.get_event_loop().run_in_executor(None, validate_launch, args)
        if args.get("scheduler") == "slurm":  # a batch job: sbatch answers at once
            spec = dict(spec, slurm=args.get("slurm") or {}, slurm_resume=args.get("slurm_resume"))
            loop = asyncio.get_event_loop()
            async with self._launch_lock:
                key = spec.get("request_key")
                existing = self.store.find_by_request_key(str(key)) if key else None
                if existing:
                    return dict(self.store.summary(existing), existing=True)
                sup = self.supervisors["slurm"]
                run_id = await loop.run_in_executor(None, sup.start, spec)
            self.watcher(run_id)
            warned = {"warnings": spec["warnings"]} if spec.get("warnings") else {}
            return dict(self.store.summary(run_id), **warned)
        async with self._launch_lock:
            key = spec.get("request_key")
            if key:
                existing = self.store.find_by_request_key(str(key))
                if existing:
                    return dict(self.store.summary(existing), existing=True)
            if not args.get("force"):
                self._check_gpus_free(spec.get("gpus"))
            run_id = self.supervisors["local"].start(spec)  # store.create + start_shim
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
        loop = asyncio.get_event_loop()
        if summary.get("slurm_job_id") is not None:
            if summary["status"] not in LIVE:
                return dict(summary, already_ended=True)
            task = self._stops.get(run_id)
            if task is None or task.done():
                task = loop.create_task(self.supervisors["slurm"].stop(run_id, sig, grace))
                self._stops[run_id] = task
            return await asyncio.shield(task)
        # A job that ended may have left workers holding the GPUs: those are stopped too.
        if summary["status"] != RUNNING and not await loop.run_in_executor(
            None, self.store.members, run_id
        ):
            return dict(summary, already_ended=True)
        task = self._stops.get(run_id)
        if task is None or task.done():
            task = loop.create_task(self._escalate(run_id, sig, grace, summary["status"]))
            self._stops[run_id] = task
        return await asyncio.shield(task)

    async def _escalate(self, run_id: str, sig: int, grace: float, status: str) -> Dict[str, Any]:
        """The run's signal (SIGINT), a grace period, SIGTERM, then SIGKILL, bounded."""
        loop = asyncio.get_event_loop()
        if status == RUNNING:  # an ended job keeps its own exit; only its leftovers are ended
            self.store.mark_stop(run_id, sig, grace)
        state = self.store.summary_state(run_id)
        cgroup = cgroups.of_run(state.get("cgroup"), run_id)

        async def find() -> List[int]:
            return await loop.run_in_executor(None, self.store.members, run_id)

        def send(pids: List[int], step_sig: int) -> None:
            if step_sig == signal.SIGKILL:
                cgroups.kill(cgroup)  # everything in the cgroup at once: no fork slips by
            signal_all(pids, step_sig)

        left = await stopper.escalate(find, send, read_proc, sig, grace, TERM_GRACE_S)
        state_path = os.path.join(self.store.run_dir(run_id), "exit.json")
        adopted = state.get("kind") == "adopted"  # no shim, no record
        for _ in range(0 if adopted else 100):  # the shim records the exit right after its child
            if os.path.exists(state_path) or left:
                break
            await asyncio.sleep(0.05)
        summary = self.store.summary(run_id)
        if left:
            summary["stop_incomplete"] = left
            summary["error"] = stopper.report(left)
        return summary

    async def op_queue(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """This user's Slurm jobs, the ones our runs submitted named by run id."""
        from .slurm import available, job_of, queue

        if not available():
            return {"scheduler": None, "jobs": []}
        loop = asyncio.get_event_loop()
        user = pwd.getpwuid(os.getuid()).pw_name
        jobs = await loop.run_in_executor(None, queue, user)
        ours = {}  # from each run's slurm.json: no status (no scontrol) per run
        for run_id in self.store.run_ids():
            job_id = job_of(os.path.join(self.store.root, run_id))
            if job_id:
                ours[job_id] = run_id
        for job in jobs:
            job["run"] = ours.get(job["job_id"])
        return {"scheduler": "slurm", "jobs": jobs}

    async def op_tail(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """The last ``lines`` lines of output.log, and the offset to follow from."""
        path = os.path.join(self.store.run_dir(str(args.get("run"))), "output.log")
        want = max(0, int(args.get("lines", 50)))
        return await asyncio.get_event_loop().run_in_executor(None, tail_lines, path, want)

    async def op_log(self, args: Dict[str, Any]) -> Dict[str, Any]:
        path = os.path.join(self.store.run_dir(str(args.get("run"))), "output.log")
        offset = max(0, int(args.get("since", 0)))
        w = self.watcher(str(args.get("run")))
        limit = max(1, min(int(args.get("limit", 1 << 20)), 8 << 20))
        text, start, end = await asyncio.get_event_loop().run_in_executor(
            None, read_chunk, path, offset, limit, w.finished
        )
        return {"offset": start, "end": end, "text": text}

    async def op_log_search(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """Lines of output.log holding a pattern, searched on the node (agent/logsearch.py)."""
        path = os.path.join(self.store.run_dir(str(args.get("run"))), "output.log")
        return await log_search(path, args)

    async def op_metrics(self, args: Dict[str, Any]) -> Dict[str, Any]:
        w = self.watcher(str(args.get("run")))
        if args.get("wait") == "ended" and self.store.summary(w.run_id)["status"] not in LIVE:
            # A run that has ended: answer once its logs are parsed to the end.
            await w.until_finished()
        since, limit = int(args.get("since", 0)), int(args.get("limit", 100000))
        columns, last = w.metric_columns(since, limit, bool(args.get("packed")))
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
