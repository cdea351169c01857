"""The supervisor seam: who starts a run and stops it (its status is RunStore.summary's, and
a daemon restart picks runs up in AgentService.adopt).

``local``: our shim in a session of its own on this host (runs.py, shim.py and the service's
stop escalation, unchanged behind this seam). ``slurm``: a batch job whose script execs the
same shim on an allocated node (slurm.py); the scheduler says the status, scancel stops it.
A run's spec names its scheduler; runs made before the seam are local.
"""

import abc
import asyncio
import os
import time
from typing import Any, Awaitable, Callable, Dict, List

from ..protocol import errors
from ..protocol.errors import AgentError
from . import slurm
from .files import CorruptFile, read_json, write_json_atomic
from .runs import RunStore

LIVE = slurm.LIVE_STATES  # the statuses of a run that may still write output


class Supervisor(abc.ABC):
    name = ""

    def __init__(self, store: RunStore, shim_cmd: List[str]) -> None:
        self.store = store
        self.shim_cmd = shim_cmd

    @abc.abstractmethod
    def start(self, spec: Dict[str, Any]) -> str:
        """Create the run's record and start (or submit) it; its id."""

    @abc.abstractmethod
    async def stop(self, run_id: str, sig: int, grace: float) -> Dict[str, Any]:
        """Stop the run the way its scheduler expects; its final summary."""

    async def resume_stop(self, run_id: str) -> Dict[str, Any]:
        """Carry on a stop an earlier daemon began; its final summary."""
        return self.store.summary(run_id)


class LocalSupervisor(Supervisor):
    """Our shim on this host; stop is the service's escalation (SIGINT, grace, TERM, KILL)."""

    name = "local"

    def __init__(
        self,
        store: RunStore,
        shim_cmd: List[str],
        escalate: Callable[[str, int, float, str], Awaitable[Dict[str, Any]]],
    ) -> None:
        super().__init__(store, shim_cmd)
        self._escalate = escalate

    def start(self, spec: Dict[str, Any]) -> str:
        run_id = self.store.create(spec)
        self.store.start_shim(run_id, self.shim_cmd)
        return run_id

    async def stop(self, run_id: str, sig: int, grace: float) -> Dict[str, Any]:
        return await self._escalate(run_id, sig, grace, self.store.summary(run_id)["status"])


class SlurmSupervisor(Supervisor):
    """A batch job; see slurm.py."""

    name = "slurm"

    def start(self, spec: Dict[str, Any]) -> str:
        spec = slurm.prepare(dict(spec, scheduler="slurm"), self.shim_cmd)
        run_id = self.store.create(spec)
        run_dir = self.store.run_dir(run_id)
        try:
            if spec.get("warnings"):  # the job's shim appends its output below these lines
                with open(os.path.join(run_dir, "output.log"), "a") as log:
                    log.writelines(f"[rdt-tui] warning: {w}\n" for w in spec["warnings"])
            slurm.submit(run_dir, dict(spec, id=run_id), self.shim_cmd)
        except BaseException:
            _remove_run(run_dir)  # no half-made run record
            raise
        return run_id

    async def stop(self, run_id: str, sig: int, grace: float) -> Dict[str, Any]:
        loop = asyncio.get_event_loop()
        run_dir = self.store.run_dir(run_id)
        job = slurm.job_of(run_dir)
        if not job:
            raise AgentError(errors.STATE_CORRUPT, f"run {run_id} has no Slurm job id")
        slurm.forget(job)  # what Slurm says now, not a cached look: a job may have started
        now = await loop.run_in_executor(None, self.store.summary, run_id)
        waiting = now["status"] in ("pending", "requeued")
        self.store.mark_stop(run_id, sig, grace)
        problem = ""
        if not waiting:  # a job still in the queue has no process to save a checkpoint
            problem = await self._signal(run_id, job)
        return await self._finish(run_id, job, 0.0 if waiting else grace, problem)

    async def _signal(self, run_id: str, job: str) -> str:
        """The stop signal to the job, noted in stop.json before and after it is sent, so a
        daemon that takes over knows whether the job had it."""
        path = os.path.join(self.store.run_dir(run_id), "stop.json")
        _note(path, signalling=True)
        name = slurm.stop_signal_name(self.store.spec(run_id))
        problem = await asyncio.get_event_loop().run_in_executor(None, slurm.signal_job, job, name)
        _note(path, signalled_at=time.time())
        return problem

    async def resume_stop(self, run_id: str) -> Dict[str, Any]:
        """Carry on a stop that an earlier daemon began (it was replaced or killed during the
        grace): the rest of the grace, then the cancel; the signal first if it never went out."""
        loop = asyncio.get_event_loop()
        run_dir = self.store.run_dir(run_id)
        job = slurm.job_of(run_dir)
        info: Dict[str, Any] = {}
        try:
            kept = read_json(os.path.join(run_dir, "stop.json"))
            info = kept if isinstance(kept, dict) else {}
            grace = float(info.get("grace") or 0.0)
            left = float(info.get("requested_at", 0)) + grace - time.time()
        except (CorruptFile, TypeError, ValueError):
            grace, left = 0.0, 0.0
        if not job:
            return await loop.run_in_executor(None, self.store.summary, run_id)
        slurm.forget(job)  # scontrol asked again below: off the loop, which serves clients
        problem = ""
        now = await loop.run_in_executor(None, self.store.summary, run_id)
        if now["status"] in ("pending", "requeued"):
            left = 0.0  # nothing runs to save a checkpoint: the cancel at once
        elif info.get("signalling") and not info.get("signalled_at"):
            # The earlier daemon died before the signal went out: the job has its full grace
            problem = await self._signal(run_id, job)
            left = grace
        return await self._finish(run_id, job, max(0.0, left), problem)

    async def _finish(self, run_id: str, job: str, grace: float, problem: str) -> Dict[str, Any]:
        """Wait up to ``grace`` for the job to end, then scancel it; its final summary."""
        loop = asyncio.get_event_loop()
        if not await self._ended(run_id, grace):
            problem = await loop.run_in_executor(None, slurm.cancel, job) or problem
            await self._ended(run_id, slurm.KILL_WAIT_S)
        summary = await loop.run_in_executor(None, self.store.summary, run_id)
        if summary["status"] in LIVE:
            summary["stop_incomplete"] = True
            summary["error"] = "Slurm has not ended job {} yet{}".format(
                job, (": " + problem) if problem else ""
            )
        return summary

    async def _ended(self, run_id: str, within: float) -> bool:
        loop = asyncio.get_event_loop()
        deadline = time.monotonic() + max(0.0, within)
        while True:
            summary = await loop.run_in_executor(None, self.store.summary, run_id)
            if summary["status"] not in LIVE:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.5)


def _note(path: str, **fields: Any) -> None:
    """Add fields to stop.json (written by RunStore.mark_stop just before)."""
    try:
        info = read_json(path)
        if isinstance(info, dict):
            write_json_atomic(path, dict(info, **fields))
    except (CorruptFile, OSError):
        pass  # a stop goes on without its note; a resumed one then does not signal again


def _remove_run(run_dir: str) -> None:
    for name in os.listdir(run_dir):
        try:
            os.unlink(os.path.join(run_dir, name))
        except OSError:
            pass
    try:
        os.rmdir(run_dir)
    except OSError:
        pass


def supervisors(
    store: RunStore, shim_cmd: List[str], escalate: Callable[..., Awaitable[Dict[str, Any]]]
) -> Dict[str, Supervisor]:
    return {
        "local": LocalSupervisor(store, shim_cmd, escalate),
        "slurm": SlurmSupervisor(store, shim_cmd),
    }
