"""GPU telemetry of a Slurm job's nodes, from inside the allocation.

The agent runs on the login node and sees none of the job's GPUs. While a Slurm run is watched
with GPUs asked for, the agent starts one ``srun --overlap --jobid=J`` step of our own sampler
(``agent slurm-gpus``), one task per node of the job, beside the job's own steps. Each task
prints one JSON line per sample with its node's name; srun relays the lines to the agent, which
merges the nodes' latest samples into one sample with every GPU labelled by its node, and
streams it to the console like a local GPU sample.

When the cluster does not let us in (srun refuses the step: a policy, a suspended job, no
srun on the login node), the sample says why instead of GPUs, and the agent tries again later.
The job never depends on the sampler: it is a step of its own, ended with its srun. Standard
library only.
"""

import asyncio
import collections
import itertools
import json
import os
import signal
import socket
import sys
import time
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Sequence, Tuple

SAMPLER = "slurm-gpus"  # the agent's subcommand that samples inside the allocation
HISTORY = 3600
WAITING_S = 5.0  # no sample yet after this long: say that Slurm has not started the step
QUIET_S = 15.0  # no line after this long (at least 3 intervals): the pane must not look live
RETRY_S = 30.0  # after a refusal or a sampler that ended while the job runs
IDLE_S = 60.0  # no subscription has asked for the job's GPUs this long: the step ends
STOP_S = 10.0  # srun's time to have slurmd end the step's tasks before it is KILLed
ERR_LINES = 8
LINE_MAX = 4 << 20
PR_SET_PDEATHSIG = 1

Sample = Dict[str, Any]


# ----- inside the allocation ---------------------------------------------------------------
def sampler_main(argv: List[str]) -> int:
    """``agent slurm-gpus [--interval S] [--simulate N]``: this node's GPUs, one JSON line per
    sample on stdout, until stdout is closed or the step is ended."""
    from .gpu import MIN_INTERVAL, RunOfPid, open_backend
    from .hoststats import CpuMeter, host_sample

    opts = dict(zip(argv[::2], argv[1::2]))
    try:
        interval = max(MIN_INTERVAL, float(opts.get("--interval", "1")))
        simulate = max(0, int(opts.get("--simulate", "0")))
    except ValueError:
        print("usage: slurm-gpus [--interval S] [--simulate N]", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda _s, _f: sys.exit(0))
    node = os.environ.get("SLURMD_NODENAME") or socket.gethostname().split(".")[0]
    backend, reason = open_backend(simulate)
    run_of, cpu = RunOfPid(), CpuMeter()
    while True:
        started = time.monotonic()
        sample: Sample = {
            "node": node,
            "t": time.time(),
            "backend": backend.name if backend else "none",
            "simulated": bool(backend and backend.simulated),
            "gpus": [],
            "reason": reason,
            "host": host_sample(cpu, os.getcwd()),
        }
        if backend is not None:
            try:
                sample["gpus"] = backend.sample(run_of)
            except Exception as exc:  # a driver hiccup must not end the telemetry
                sample["reason"] = f"GPU query failed: {exc}"
        try:
            sys.stdout.write(json.dumps(sample) + "\n")
            sys.stdout.flush()
        except (BrokenPipeError, OSError):
            return 0  # the agent went away: so do we
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


# ----- on the login node -----------------------------------------------------------------
def srun_argv(
    job_id: str, table: Dict[str, Any], agent_cmd: List[str], interval: float, simulate: int
) -> List[str]:
    """The sampler step: one task per node of the job (``table``: the run's [slurm] table),
    sharing the job's resources. It asks for the job's GPUs, so that on a cluster confining
    each step to its devices the sampler sees them (``--overlap`` lets it share them)."""
    nodes = max(1, int(table.get("nodes") or 1))
    gpus = []
    if table.get("gpus_per_node"):
        gpus = [f"--gpus-per-node={int(table['gpus_per_node'])}"]
    elif table.get("gres"):
        gpus = [f"--gres={table['gres']}"]
    return [
        "srun",
        "--overlap",
        f"--jobid={job_id}",
        f"--nodes={nodes}",
        f"--ntasks={nodes}",
        "--ntasks-per-node=1",
        *gpus,
        "--quiet",
        f"--job-name=rdt-gpus-{job_id}",
        *agent_cmd,
        SAMPLER,
        "--interval",
        f"{interval:g}",
        "--simulate",
        str(simulate),
    ]


def merge(latest: Dict[str, Sample], job_id: str) -> Sample:
    """The nodes' latest samples as one: GPUs numbered in node order, each with its ``node``
    and its index there (``node_index``); a node without GPUs says why in ``reason``."""
    gpus: List[Dict[str, Any]] = []
    reasons = []
    nodes = sorted(latest)
    for node in nodes:
        part = latest[node]
        for g in part.get("gpus") or []:
            gpus.append(dict(g, index=len(gpus), node=node, node_index=g.get("index")))
        if not part.get("gpus"):
            reasons.append(f"{node}: {part.get('reason') or 'no GPUs'}")
    first = latest[nodes[0]] if nodes else {}
    return {
        "t": max((float(latest[n].get("t") or 0.0) for n in nodes), default=time.time()),
        "backend": first.get("backend", "none"),
        "simulated": any(latest[n].get("simulated") for n in nodes),
        "gpus": gpus,
        "reason": "; ".join(reasons),
        "host": first.get("host") or {},
        "job": job_id,
        "nodes": nodes,
    }


class JobGpus:
    """The sampler step of one job and what its tasks said (bounded history)."""

    def __init__(
        self,
        job_id: str,
        argv: List[str],
        nodes: int,
        wake: Callable[[], None],
        seqs: Iterator[int],
    ) -> None:
        self.job_id = job_id
        self.argv = argv
        self.nodes = max(1, nodes)
        self.wake = wake
        self.samples: Deque[Tuple[int, Sample]] = collections.deque(maxlen=HISTORY)
        self.seqs = seqs  # the table's: a job's step started again never numbers backwards
        self.fed_at = time.monotonic()
        self.latest: Dict[str, Sample] = {}
        self._round: set = set()
        self._task: Optional[asyncio.Task[None]] = None
        self._proc: Optional[asyncio.subprocess.Process] = None
        self._retry_at = 0.0
        self.quiet_s: Optional[float] = None  # QUIET_S, or 3 sample intervals when longer

    def ensure(self) -> None:
        """Start the step unless it runs, or a refusal is too recent to ask again."""
        if (self._task is None or self._task.done()) and time.monotonic() >= self._retry_at:
            self._task = asyncio.get_event_loop().create_task(self._run())

    def close(self) -> None:
        """End the step: its srun forwards the TERM to the tasks and ends; KILLed (the task
        cancelled) only after STOP_S. A srun KILLed at once cannot ask slurmd to end the
        step, and the sampler tasks would run on beside the job."""
        self._retry_at = float("inf")
        proc, task = self._proc, self._task
        if proc is not None and proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except OSError:
                pass
            if task is not None and not task.done():
                asyncio.get_event_loop().call_later(STOP_S, self._kill, proc, task)
                return
        if task is not None:
            task.cancel()

    @staticmethod
    def _kill(proc: asyncio.subprocess.Process, task: "asyncio.Task[None]") -> None:
        """srun outlived STOP_S: KILL its group, and the reader ends on the EOF that follows.
        A cancel alone is not enough: Python 3.11's wait_for drops a cancel that lands as a
        line arrives, and the reader would read on, srun alive, for ever."""
        if proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        if not task.done():
            task.cancel()

    @property
    def sampling(self) -> bool:
        """The step is up (or being started), not ended nor waiting out a refusal."""
        task = self._task
        return task is not None and not task.done() and self._retry_at != float("inf")

    def _publish(self, sample: Sample) -> None:
        self.samples.append((next(self.seqs), sample))
        self.wake()

    def _say(self, why: str) -> None:
        self._publish(
            {
                "t": time.time(),
                "backend": "none",
                "simulated": False,
                "gpus": [],
                "reason": f"GPUs of Slurm job {self.job_id} not shown: {why}",
                "host": {},
                "job": self.job_id,
                "nodes": [],
            }
        )

    def _take(self, line: bytes) -> bool:
        try:
            part = json.loads(line)
        except ValueError:
            return False  # a stray line of srun's: not ours
        if not isinstance(part, dict) or not isinstance(part.get("node"), str):
            return False
        node = part["node"]
        try:  # one merge cannot take would raise out of every later round: not ours
            merge({node: part}, self.job_id)
        except (TypeError, ValueError, AttributeError):
            return False
        if node in self._round:  # a node's second sample before the others' first: a round
            self._publish(merge(self.latest, self.job_id))
            self._round = set()
        self.latest[node] = part
        self._round.add(node)
        if len(self._round) >= self.nodes:
            self._publish(merge(self.latest, self.job_id))
            self._round = set()
        return True

    async def _run(self) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own group: close() ends srun, not us
                preexec_fn=_term_when_parent_dies(),
                limit=LINE_MAX,  # a node with many GPUs and processes writes long lines
            )
        except OSError as exc:
            self._retry_at = time.monotonic() + RETRY_S
            self._say(f"cannot run {self.argv[0]}: {exc.strerror or exc}")
            return
        self._proc = proc
        assert proc.stdout is not None and proc.stderr is not None
        errors: Deque[str] = collections.deque(maxlen=ERR_LINES)
        err_task = asyncio.ensure_future(_lines(proc.stderr, errors))
        got, said_waiting, said_quiet = False, False, False
        waiting_until = time.monotonic() + WAITING_S
        quiet = self.quiet_s or QUIET_S
        try:
            while True:
                if got:
                    bound = None if said_quiet else quiet
                else:
                    bound = None if said_waiting else max(0.1, waiting_until - time.monotonic())
                try:
                    line = await asyncio.wait_for(proc.stdout.readline(), bound)
                except ValueError:  # a line past LINE_MAX: not a sample of ours
                    continue
                except asyncio.TimeoutError:
                    if got:  # a node hangs (srun waits for it): its last readings are old
                        said_quiet = True
                        self._say(f"no sample from the job's nodes in {quiet:.0f} s")
                        continue
                    said_waiting = True
                    words = " ".join(errors) or "no word from srun yet"
                    self._say(f"waiting for Slurm to start the sampler (srun --overlap): {words}")
                    continue
                if not line:
                    break
                if self._take(line):
                    got, said_quiet = True, False
            try:
                code = await asyncio.wait_for(proc.wait(), 10)
            except asyncio.TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                code = await proc.wait()
            try:
                await asyncio.wait_for(err_task, 5)
            except asyncio.TimeoutError:  # what srun left behind holds its stderr: end it
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # the group exists: it holds the pipe
                except OSError:
                    pass
        finally:
            if proc.returncode is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
            err_task.cancel()
        if self._retry_at == float("inf"):
            return  # ended by close(): not a refusal
        self._retry_at = time.monotonic() + RETRY_S
        if not got:
            words = " ".join(errors) or f"exit status {code}"
            self._say(f"Slurm refused the sampler step inside the job (srun --overlap): {words}")


def _term_when_parent_dies() -> Optional[Callable[[], None]]:
    """srun runs in a session of its own, so a daemon killed outright (SIGKILL, the OOM
    killer) would leave it, and the sampler step on the nodes, for the job's whole life (and
    the next daemon starts another): the kernel sends srun TERM when the daemon goes (Linux's
    PR_SET_PDEATHSIG, set between fork and exec). None where ctypes is missing."""
    try:
        import ctypes  # resolved here, before the fork: the child only makes the call

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the daemon went before the line above
            os._exit(0)

    return arm


async def _lines(stream: asyncio.StreamReader, keep: Deque[str]) -> None:
    while True:
        line = await stream.readline()
        if not line:
            return
        text = line.decode("utf-8", "replace").strip()
        if text:
            keep.append(text)


class JobGpusTable:
    """The sampler steps of the Slurm runs being watched, one per job."""

    def __init__(
        self, agent_cmd: List[str], simulate: int, interval: float, wake: Callable[[], None]
    ) -> None:
        self.agent_cmd = agent_cmd
        self.simulate = simulate
        self.interval = interval
        self.wake = wake
        self.jobs: Dict[str, JobGpus] = {}
        self._seqs = itertools.count(1)

    def feed(
        self, summary: Dict[str, Any], table_of: Callable[[], Dict[str, Any]]
    ) -> Sequence[Tuple[int, Sample]]:
        """The samples of the run's job, its step started while the job runs, ended after
        (``table_of``: the run's [slurm] table, read once)."""
        job_id = str(summary.get("slurm_job_id") or "")
        running = summary.get("status") == "running"
        job = self.jobs.get(job_id)
        if job is None and running:
            table = table_of()
            argv = srun_argv(job_id, table, self.agent_cmd, self.interval, self.simulate)
            job = JobGpus(job_id, argv, int(table.get("nodes") or 1), self.wake, self._seqs)
            job.quiet_s = max(QUIET_S, 3 * self.interval)
            self.jobs[job_id] = job
        if job is None:
            return ()
        job.fed_at = time.monotonic()
        if running:
            job.ensure()
        elif summary.get("status") not in ("pending", "requeued"):
            job.close()  # the job ended: so did its step; the history stays for the charts
        return job.samples

    def sampled(self, job_id: str) -> Sequence[Tuple[int, Sample]]:
        """The job's samples while its sampler step runs, else none (the alert engine's view:
        it starts no step of its own unless asked through ``feed``)."""
        job = self.jobs.get(job_id)
        return job.samples if job is not None and job.sampling else ()

    def reap(self) -> None:
        """End the steps (and drop the history) of jobs no subscription has asked for in
        IDLE_S: a sampler must not run for the days a job runs while no one looks."""
        now = time.monotonic()
        for job_id, job in list(self.jobs.items()):
            if now - job.fed_at > IDLE_S:
                job.close()
                del self.jobs[job_id]

    def close(self) -> None:
        for job in self.jobs.values():
            job.close()
