"""The payload of every op result and pushed event, as ``TypedDict``s, and the run statuses.

``wire.py`` frames messages; this module says what is in them, so the console and the CLI
read typed results (mypy checks a misspelled key) instead of string keys off bare dicts. The
agent builds these payloads as plain dicts (it runs on Python 3.8 with the standard library
only, so ``total=False`` marks the fields a payload may lack: ``typing.TypedDict`` has no
``NotRequired`` before 3.11). Two shapes exist for metric points: the columns the agent sends
(``*Wire``, floats maybe as text, see ``wire.encode_float``) and the decoded ones the client
hands on (:class:`MetricColumn`, :class:`Point`).
"""

from typing import Any, Dict, List, Literal, Optional, TypedDict, Union

# The op payloads beside the streams (re-exported: importers keep this module's names).
from .messages_ops import (  # noqa: F401
    Alert,
    Alerts,
    Candidate,
    Manifest,
    ManifestFile,
    ManifestProgress,
    NotifyState,
    PreflightFacts,
    Queue,
    QueueJob,
    StatsResult,
)

WireFloat = Union[float, str]  # a float on the wire: "nan", "inf", "-inf" as text

# ----- run statuses ----------------------------------------------------------------------
RUNNING = "running"
EXITED = "exited"
STOPPED = "stopped"
LOST = "lost"
ENDED = "ended"  # an adopted run whose processes are gone (its exit code is unknown)
PENDING = "pending"  # Slurm: queued
REQUEUED = "requeued"  # Slurm: back in the queue after a node failure or preemption
FAILED = "failed"  # Slurm: FAILED, OUT_OF_MEMORY, BOOT_FAIL with no exit record
TIMEOUT = "timeout"
PREEMPTED = "preempted"
NODE_FAIL = "node_fail"
LIVE_STATES = (PENDING, RUNNING, REQUEUED)  # a run that may still write output
ENDED_STATES = (EXITED, STOPPED, LOST)  # the local supervisor's ends


# ----- hello -----------------------------------------------------------------------------
class Hello(TypedDict, total=False):
    protocol: int
    build: str
    pid: int
    uid: int
    hostname: str
    python: str
    python_executable: str
    state_dir: str
    simulated_gpus: int
    started_at: float
    live_runs: int


# ----- runs ------------------------------------------------------------------------------
class _RunSummaryKeys(TypedDict):
    id: str
    status: str  # one of the statuses above


class RunSummary(_RunSummaryKeys, total=False):
    """What ``runs``, ``status``, ``launch``, ``adopt`` and ``stop`` answer of a run, and the
    data of a ``status`` event. Fields of a kind of run (Slurm, adopted) come only with it."""

    exit_code: Optional[int]
    signal: Optional[int]
    name: Optional[str]
    argv: Optional[List[str]]
    cwd: Optional[str]
    gpus: Optional[List[str]]
    created_at: Optional[float]
    profile: Optional[str]
    group: Optional[str]  # the multi-node job it is one node of
    pid: Optional[int]
    started_at: Optional[float]
    ended_at: Optional[float]
    stop_requested: bool
    held_by: List[str]
    pids: List[int]
    leftover: List[int]  # processes that outlived the job
    error: str  # problems, joined by "; "
    dropped_bytes: int  # output lost while the state directory was full
    # an adopted run (started outside rdt-tui)
    kind: str
    exit_code_known: bool
    exit_note: str
    log: Optional[str]
    # a Slurm run
    slurm_job_id: Optional[str]
    slurm_state: str
    slurm_reason: Optional[str]
    nodes: Optional[str]
    restarts: int
    time_limit: Optional[str]
    time_left: float
    expected_start: Optional[str]
    # op status with ``progress``
    metrics_seq: int
    # op launch / adopt: the run a retry (same request key) or an earlier adoption started
    existing: bool
    # op stop
    already_ended: bool
    stop_incomplete: List[Dict[str, Any]]  # processes a stop could not end (stopper.report)
    # op launch: what the node could not check (a Slurm job's program not on the login node)
    warnings: List[str]
    # a status event: the run has ended and its output is read to the end
    complete: bool


# ----- log -------------------------------------------------------------------------------
class LogTail(TypedDict):  # op tail: the last lines of output.log and the offset to follow from
    lines: List[str]
    end: int


class LogChunk(TypedDict):  # op log: the text of output.log from offset to end (whole lines)
    offset: int
    end: int
    text: str


class LogMatch(TypedDict):
    offset: int  # where the matching line starts
    end: int  # and ends
    at: int  # where the pattern is in it
    text: str


class LogSearch(TypedDict):  # op log_search: call again from next while done is false
    matches: List[LogMatch]
    next: int
    done: bool
    size: int


class LogData(TypedDict):  # the data of a log event (its seq is the offset after text)
    offset: int
    text: str


# ----- metrics ---------------------------------------------------------------------------
class MetricColumnWire(TypedDict, total=False):
    # Packed (the columns' ``packed`` field): each a str, base64 of the little-endian array
    seq: Union[List[int], str]
    step: Union[List[Optional[int]], str]  # None (packed: the least int64): no step
    value: Union[List[WireFloat], str]
    source: str  # "log", or "events" (a TensorBoard event file)


class MetricColumnsWire(TypedDict, total=False):
    """Points as the agent sends them: columns per metric name, and when the batches of
    points were parsed (``times``: ``[[first_seq, t], ...]``). The data of a ``metric`` event
    as it comes off the link; op ``metrics`` adds its page fields."""

    series: Dict[str, MetricColumnWire]
    count: int  # how many seqs the answer covers
    packed: str  # "b64le" when the client asked for packed columns (wire.pack_column)
    times: List[List[float]]
    last_seq: int
    finished: bool
    problems: List[str]


class MetricColumn(TypedDict):
    """One metric's new points, decoded, in seq order: a point is the i-th of each list."""

    seq: List[int]
    step: List[Optional[int]]
    value: List[float]  # NaN and Inf as floats again
    t: List[Optional[float]]  # when the point was parsed (None: not known)
    source: str


class MetricBatch(TypedDict):
    """The data of a ``metric`` event as a subscription hands it on: columns per name."""

    series: Dict[str, MetricColumn]
    count: int


class Point(TypedDict):
    seq: int
    name: str
    value: float
    step: Optional[int]
    source: str
    t: Optional[float]


class MetricsPage(TypedDict):
    """Op ``metrics`` as AgentClient answers it: the points after ``since`` in seq order."""

    points: List[Point]
    last_seq: int
    finished: bool
    problems: List[str]  # what the agent skipped or found wrong in the run's event files


class HistorySeries(TypedDict, total=False):
    count: int
    step: List[Optional[int]]
    value: List[WireFloat]
    t: List[float]
    last: Optional[WireFloat]
    source: str


class History(TypedDict, total=False):  # op history: each series downsampled, spikes kept
    last_seq: int
    series: Dict[str, HistorySeries]
    finished: bool


# ----- checkpoints -----------------------------------------------------------------------
class Checkpoint(TypedDict, total=False):
    path: str
    name: str
    step: Optional[int]
    size: int
    mtime: Optional[float]
    is_dir: bool
    notable: List[str]  # the files a user looks for (EMA weights, optimizer state...)


class Disk(TypedDict, total=False):
    path: str
    free: Optional[int]
    total: Optional[int]


class Checkpoints(TypedDict, total=False):
    """Op ``checkpoints``: oldest first, and the free space where they go."""

    directory: str
    checkpoints: List[Checkpoint]
    disk: Disk


class CheckpointEvent(TypedDict):  # the data of a checkpoint event
    kind: str  # "added", "updated", "removed"
    checkpoint: Checkpoint


# ----- GPUs and the host -----------------------------------------------------------------
class GpuProcess(TypedDict, total=False):
    pid: int
    mem: Optional[int]
    run: Optional[str]  # the run that owns it, when it is one of ours


class Gpu(TypedDict, total=False):  # one GPU in a sample; a field the GPU does not report is None
    index: int
    name: str
    uuid: str
    util: Optional[float]
    mem_used: Optional[int]
    mem_total: Optional[int]
    power: Optional[float]
    power_limit: Optional[float]
    temp: Optional[float]
    sm_clock: Optional[int]
    persistence: Optional[Any]
    processes: List[GpuProcess]
    node: str  # a Slurm job's GPU: the node it is on, and its index there
    node_index: int


class HostSample(TypedDict, total=False):
    cpu_percent: Optional[float]
    cpus: Optional[int]
    load1: Optional[float]
    mem_total: Optional[int]
    mem_used: Optional[int]
    disk: Disk


class GpuSample(TypedDict, total=False):  # the data of a gpu event, and one of op gpus' samples
    seq: int  # op gpus only
    t: float
    simulated: bool
    backend: str  # "nvml", "nvidia-smi", "simulated", "none"
    gpus: List[Gpu]
    reason: str  # why there are no GPUs, or why the last query failed
    host: HostSample
    job: str  # a Slurm job's GPUs, sampled inside its allocation, and its nodes
    nodes: List[str]


class GpuSamples(TypedDict):  # op gpus
    samples: List[GpuSample]
    interval: float


# ----- events ----------------------------------------------------------------------------
class _EventBase(TypedDict):
    run: Optional[str]
    seq: int  # the position to pass as ``since`` to get what follows
    sub: str  # the subscription it feeds


class MetricEvent(_EventBase):
    event: Literal["metric"]
    data: MetricBatch


class LogEvent(_EventBase):
    event: Literal["log"]
    data: LogData


class GpuEvent(_EventBase):
    event: Literal["gpu"]
    data: GpuSample


class CheckpointEventMessage(_EventBase):
    event: Literal["checkpoint"]
    data: CheckpointEvent


class StatusEvent(_EventBase):
    event: Literal["status"]
    data: RunSummary


# What a subscription hands on; ``ev["event"] == "metric"`` narrows it for the type checker.
Event = Union[MetricEvent, LogEvent, GpuEvent, CheckpointEventMessage, StatusEvent]
