"""The payloads of the operations' results beside a run's streams: processes started by hand,
the Slurm queue, alerts, preflight facts, dataset manifests and statistics. Split from
``messages.py`` (which re-exports every name here) to keep each module short; the same rules
hold (standard library only, Python 3.8, ``total=False`` for the fields a payload may lack).
"""

from typing import Any, Dict, List, Optional, TypedDict


# ----- processes started by hand, the Slurm queue, alerts --------------------------------
class Candidate(TypedDict, total=False):
    """One of op ``candidates``' training processes that no run of ours holds."""

    pid: int
    start_time: int
    started_at: Optional[float]
    argv: List[str]
    cwd: Optional[str]
    log: Optional[str]  # None when its stdout is no file (``stdout`` says what it is)
    stdout: str
    launcher: Optional[str]
    processes: int
    gpu: bool
    run: Optional[str]  # already one of our runs (adopted earlier)


class QueueJob(TypedDict, total=False):
    job_id: str
    name: str
    state: str
    time: str
    nodes: str
    nodelist: str
    reason: str
    start: str
    run: Optional[str]  # the run that submitted it


class Queue(TypedDict):  # op queue: this user's Slurm jobs (scheduler None: no Slurm on the host)
    scheduler: Optional[str]
    jobs: List[QueueJob]


class Alert(TypedDict, total=False):
    seq: int
    t: float
    host: str
    run: Optional[str]
    kind: str
    severity: str
    message: str


class NotifyState(TypedDict, total=False):  # op notify, and the settings part of op alerts
    problem: Optional[str]
    rules: Dict[str, Any]
    notify: Optional[Dict[str, Any]]  # the webhook: masked url, counts of deliveries


class Alerts(NotifyState, total=False):  # op alerts: alerts kept on the node, oldest first
    alerts: List[Alert]
    last_seq: int


# ----- preflight, dataset manifests and statistics ---------------------------------------
# Op ``preflight``: the node's facts, judged by the rules of ``core.preflight`` (a nested
# document of probes; each rule reads the part it judges).
PreflightFacts = Dict[str, Any]


class ManifestFile(TypedDict, total=False):
    size: int
    md5: str
    error: str  # the file could not be read (then no size nor md5)


class Manifest(TypedDict, total=False):
    """Op ``manifest``: the MD5 of every file of a directory matching a glob."""

    root: str
    glob: str
    bytes: int
    files: Dict[str, ManifestFile]  # by path relative to ``root``


class ManifestProgress(TypedDict):
    done: int  # bytes hashed so far
    total: int


class StatsResult(TypedDict, total=False):
    """Op ``stats``: a dataset's normalisation statistics, checked and (``written``) saved."""

    path: str
    method: str  # "script" (the project's own), "rdt", "plain"
    entry: Dict[str, Any]
    status: str  # "pass", "warn", "fail"
    problems: List[str]
    changes: List[str]
    computed: Dict[str, Any]
    written: bool
    backup: Optional[str]
