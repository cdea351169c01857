"""Alerts on the node, with or without a console: the rules of ``core.alerts`` applied to every
watched run, each alert kept in ``alerts.jsonl`` and posted to the user's webhook.

The engine reads only what the daemon already has: each run watcher's summary, metric store
and checkpoint list, the GPU sampler's samples, and the fatal lines the watcher met in the run's
output.log after the engine's offset (only a gap the watcher skipped, after a restart, is read
here).
Where it got to in each run is kept in ``runs/<id>/alerts-state.json``, so a daemon restart
neither repeats an alert nor forgets a run that ended while it was down.

A run is judged right after each poll of its watcher (``polled``), which is when anything the
rules read can have changed: no timer of its own, and no wait between the poll that saw a fatal
line or the run's end and the alert. Every run is also judged at least every ``SWEEP_S``
(a watcher held up by a slow disk still has its run judged for a stall).
"""

import asyncio
import os
import socket
import time
import traceback
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from ..core.alerts import (
    DEFAULT_RULES,
    checkpoint_does_not_fit,
    full_before_next_checkpoint,
    log_alert,
    merge_rules,
    near_time_limit,
    seconds_until_full,
)
from .alertlog import AlertLog
from .alertmetrics import judge_metrics
from .alertstate import PollNews, RunAlerts, log
from .files import CorruptFile, read_json
from .follower import read_chunk
from .hoststats import disk
from .runs import RUNNING, STOPPED
from .slurm import LIVE_STATES

SWEEP_S = 5.0  # every run judged at least this often, its watcher's polls or not
CONFIG_EVERY_S = 2.0
LOG_CHUNK = 256 * 1024
RECENT_END_S = 60.0  # a run first seen ended this long ago is reported; older ones are history
DISK_WINDOW_S = 600.0
DISK_QUIET_S = 1800.0
ERROR_REPEAT_S = 60.0


class AlertEngine:
    def __init__(self, service: Any) -> None:
        self.service = service
        self.root: str = service.root
        self.host = socket.gethostname()
        self.log = AlertLog(self.root)
        self.runs: Dict[str, RunAlerts] = {}
        self.user_rules: Dict[str, Any] = dict(DEFAULT_RULES)
        self.notifier: Any = None
        self.problem = ""
        self._config_mtime: Optional[float] = -1.0
        self._config_checked = 0.0
        self._logged_at: Dict[str, float] = {}  # fault site -> when it was last written
        self.news = PollNews()  # the runs whose watcher polled since the last tick

    # ----- configuration -----------------------------------------------------------------
    def reload(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._config_checked < CONFIG_EVERY_S:
            return
        from .notify import Notifier, check_notify, load_node_config, notify_path

        self._config_checked = now
        try:
            mtime: Optional[float] = os.stat(notify_path(self.root)).st_mtime
        except OSError:
            mtime = None
        if mtime == self._config_mtime and not force:
            return
        self._config_mtime = mtime
        data, problem = load_node_config(self.root)
        rules, problems = merge_rules(DEFAULT_RULES, data.get("rules"))
        notify, notify_problem = (None, "")
        if data.get("notify") is not None:
            notify, notify_problem = check_notify(data.get("notify"))
        self.problem = "; ".join(p for p in [problem, notify_problem, *problems] if p)
        if self.problem:
            log(f"alerts: {self.problem}")
        self.user_rules = rules
        for st in self.runs.values():
            st.apply(self._rules_for(st.run_id))
        if self.notifier is not None:
            self.notifier.close()
            self.notifier = None
        if notify is not None:
            self.notifier = Notifier(notify, log)
            log(f"alerts: posting to {self.notifier.masked} ({self.notifier.format})")

    def _rules_for(self, run_id: str) -> Dict[str, Any]:
        try:
            profile_rules = self.service.store.spec(run_id).get("alerts")
        except Exception:
            profile_rules = None
        rules, _ = merge_rules(self.user_rules, profile_rules)
        return rules

    # ----- the loop ----------------------------------------------------------------------
    async def run(self) -> None:
        self.reload(force=True)
        self._resume_unfinished()
        while True:
            try:
                await self.tick(await self.news.next(SWEEP_S))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one bad tick must not end alerting for good
                self._log_error(exc)

    def polled(self, run_id: str) -> None:
        """A run's watcher has polled (agent/watch.py): that run is judged next."""
        self.news.polled(run_id)

    def _log_error(self, exc: BaseException) -> None:
        """The same fault is logged once per ERROR_REPEAT_S, not at every tick.

        "The same" is where it happened and what kind it was, not its message: a message
        can name a fresh temporary file at every tick (EMFILE while saving the state)."""
        frames = traceback.extract_tb(exc.__traceback__)
        key = repr((type(exc).__name__, getattr(exc, "errno", None),
                    [(f.filename, f.lineno) for f in frames]))  # fmt: skip
        now = time.monotonic()
        if now - self._logged_at.get(key, -ERROR_REPEAT_S) >= ERROR_REPEAT_S:
            if len(self._logged_at) > 64:  # bounded, whatever a broken host throws at us
                self._logged_at.clear()
            self._logged_at[key] = now
            log(
                "alerts: "
                + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=5))
            )

    def _resume_unfinished(self) -> None:
        """Runs that were live when the daemon went down: watch them again, even ended ones,
        so their end is reported."""
        for run_id in self.service.store.run_ids():
            path = os.path.join(self.service.store.run_dir(run_id), "alerts-state.json")
            try:
                data = read_json(path)
            except CorruptFile:
                continue
            if isinstance(data, dict) and not data.get("ended"):
                try:
                    self.service.watcher(run_id)
                except Exception:
                    continue

    async def tick(self, only: Optional[Set[str]] = None) -> None:
        """Judge the runs in ``only`` (those whose watcher polled), or every watched run."""
        self.reload()
        now = time.time()
        todo = []
        for run_id in list(self.service.watchers) if only is None else sorted(only):
            if run_id not in self.service.watchers:
                continue
            st = self.runs.get(run_id)
            if st is None:
                try:
                    run_dir = self.service.store.run_dir(run_id)
                except Exception:  # removed from disk under us: nothing left to judge
                    continue
                st = RunAlerts(run_id, run_dir, self._rules_for(run_id))
                self.runs[run_id] = st
                st.dirty = not st.load()
            if not st.done:
                todo.append(st)
        if not todo:
            return
        if any(self._reads_files(st, now) for st in todo):
            facts = await asyncio.get_event_loop().run_in_executor(None, self._read, todo, now)
        else:  # all from the watchers' memory: no trip to a worker thread (two a second)
            facts = self._read(todo, now)
        for st, (summary, text, end, free) in zip(todo, facts):
            self._evaluate(st, summary, text, end, free, now)
            st.save(now, force=st.done)

    def _read(self, todo: List[RunAlerts], now: float) -> List[Tuple[Any, str, int, Any]]:
        """In a worker thread: each run's status, new log text and (now and then) free disk."""
        out: List[Tuple[Any, str, int, Any]] = []
        for st in todo:
            w = self.service.watchers[st.run_id]
            summary = w.summary
            ended = summary["status"] not in LIVE_STATES
            # Read before the notes: a watcher seen finished has noted its last lines.
            st.log_finished = w.finished
            text, end = self._log_news(st, w, ended)
            free = None
            if st.rules["disk"] and now - st.last_disk >= float(st.rules["disk_every_s"]):
                st.last_disk = now
                free = disk(str(w.spec.get("checkpoint_dir") or w.spec.get("cwd") or "/"))["free"]
            out.append((summary, text, end, free))
        return out

    def _reads_files(self, st: RunAlerts, now: float) -> bool:
        """Whether ``_read`` reads a file or the disk's free space for this run now (the same
        conditions as there, so a slow disk never holds the loop)."""
        w = self.service.watchers[st.run_id]
        follower = w.followers[w.output_log]
        if st.log_pos < w.log_from and not (follower.rotations + follower.truncations):
            return True  # the gap before the watcher's first read: read from output.log
        return bool(st.rules["disk"]) and now - st.last_disk >= float(st.rules["disk_every_s"])

    @staticmethod
    def _log_news(st: RunAlerts, w: Any, ended: bool) -> Tuple[str, int]:
        """The fatal lines of output.log after ``st.log_pos``, and the offset they reach.

        The watcher reads output.log anyway and notes its fatal lines (agent/watch.py); only
        what it skipped (its saved cursor ran ahead of ours before a restart) is read here."""
        follower = w.followers[w.output_log]
        restarts = follower.rotations + follower.truncations
        if st.log_pos < w.log_from and not restarts:  # after a restart, the bytes are gone
            want = min(LOG_CHUNK, w.log_from - st.log_pos)
            text, _, end = read_chunk(w.output_log, st.log_pos, want, ended)
            return text, end
        if restarts != st.log_restarts:  # output.log truncated or replaced: read from 0 again
            st.log_restarts, st.log_pos = restarts, 0
        end = follower.offset  # before the notes: a note added meanwhile is seen next time
        return "\n".join(line for at, _, line in list(w.fatal) if at > st.log_pos), end

    def _evaluate(
        self, st: RunAlerts, summary: Dict[str, Any], text: str, end: int, free: Any, now: float
    ) -> None:
        rules = st.rules
        w = self.service.watchers[st.run_id]
        fresh, st.fresh = st.fresh, False
        if fresh and summary["status"] not in LIVE_STATES:  # a pending Slurm job lives
            ended_at = float(summary.get("ended_at") or 0)
            if now - ended_at > RECENT_END_S:  # history, not news
                st.ended = st.done = True
                return
        elif fresh and now - float(summary.get("started_at") or now) > RECENT_END_S:
            # A live run older than this agent (an upgrade): judge what it does from now on,
            # not the Tracebacks and NaNs of its past.
            try:
                st.log_pos = os.path.getsize(w.output_log)
            except OSError:
                st.log_pos = 0
            st.metric_seq = w.metrics.last_seq
            st.stall.feed(now)
            return
        if end != st.log_pos:
            st.log_pos, st.dirty = end, True
        # After a stop someone asked for, the KeyboardInterrupt traceback is not news.
        stopping = bool(summary.get("stop_requested"))
        word = log_alert(text, stopping) if rules["fatal_line"] else None
        if word and st.once("fatal_line:" + word, now):
            line = next(ln for ln in text.splitlines() if word in ln).strip()
            self.raise_alert(st, "fatal_line", "error", f"log: {line[:300]}", now)
        self._metrics(st, w, now)
        running = summary["status"] == RUNNING
        if running:
            self._running_rules(st, summary, w, free, now)
        elif not st.ended and summary["status"] not in LIVE_STATES:
            st.ended, st.dirty = True, True
            self._ended(st, summary, now)
        if st.ended and st.log_finished and st.metric_seq >= w.metrics.last_seq:
            st.done = True

    def _metrics(self, st: RunAlerts, w: Any, now: float) -> None:
        judge_metrics(st, w.metrics, now, self.raise_alert)

    def _running_rules(
        self, st: RunAlerts, summary: Dict[str, Any], w: Any, free: Any, now: float
    ) -> None:
        rules = st.rules
        quiet = st.stall.silent_for(now)
        if rules["stalled"] and quiet is not None and st.once("stalled", now):
            msg = (
                f"stalled: no new step for {quiet:.0f} s while its processes live "
                "(a hung collective, such as NCCL, looks like this)"
            )
            self.raise_alert(st, "stalled", "error", msg, now)
        samples = self._gpu_samples(st, summary, w)
        new = []
        for i in range(len(samples) - 1, -1, -1):  # from the end: an hour of them is kept
            if samples[i][0] <= st.gpu_seq:
                break
            new.append(samples[i])
        for seq, sample in reversed(new):
            st.gpu_seq = seq
            gpus = sample.get("gpus") or []
            ours = [
                g for g in gpus if any(p.get("run") == st.run_id for p in g.get("processes") or [])
            ]
            utils = [g.get("util") for g in ours or gpus]
            t = sample.get("t")
            if st.idle.feed(now if t is None else float(t), utils):
                if rules["idle"] and st.once("idle", now):
                    where = " on " + ",".join(sample["nodes"]) if sample.get("nodes") else ""
                    msg = f"all GPUs{where} idle for {st.idle.after_s:.0f} s while the run is alive"
                    self.raise_alert(st, "idle", "warning", msg, now)
            else:
                st.raised.pop("idle", None)
        if free is not None:
            self._disk(st, w, float(free), now)
        left = summary.get("time_left")  # a Slurm run's (agent/slurm.py); None for others
        warn_s = float(rules["time_limit_warn_s"])
        if rules["time_limit"] and near_time_limit(left, warn_s) and st.once("time_limit", now):
            msg = f"{float(left or 0) / 60:.0f} min left of the job's time limit"
            self.raise_alert(st, "time_limit", "warning", msg, now)

    def _gpu_samples(
        self, st: RunAlerts, summary: Dict[str, Any], w: Any
    ) -> Sequence[Tuple[int, Dict[str, Any]]]:
        """What the idle rule judges: this host's GPU samples, or for a Slurm run its job's
        nodes' (agent/slurm_gpus.py), and those only while the job's sampler step runs: the
        login node's GPUs are not the job's. With the idle rule on and GPUs asked for in the
        run's [slurm] table, the engine keeps that step running itself (one per job, ended
        with the job, reaped a minute after the engine stops asking); otherwise there are job
        samples only while a console watches, and the rule says nothing in between."""
        job_id = summary.get("slurm_job_id")
        if not job_id:
            return self.service.gpu_samples
        table = w.spec.get("slurm") or {}
        if st.rules["idle"] and (table.get("gpus_per_node") or "gpu" in str(table.get("gres"))):
            self.service.gpu_feed(st.run_id)  # starts the step, or keeps it from being reaped
        return self.service.job_gpus.sampled(str(job_id))

    def _disk(self, st: RunAlerts, w: Any, free: float, now: float) -> None:
        st.disk_samples.append((now, free))
        while st.disk_samples and now - st.disk_samples[0][0] > DISK_WINDOW_S:
            st.disk_samples.popleft()
        ckpts = sorted(w.checkpoints.values(), key=lambda c: c.get("mtime") or 0)
        sizes = [float(c["size"]) for c in ckpts if c.get("size")]
        full_in = seconds_until_full(list(st.disk_samples))
        times = [float(c["mtime"]) for c in ckpts if c.get("mtime")]
        filling = checkpoint_does_not_fit(sizes, free) or full_before_next_checkpoint(
            full_in, times, now
        )
        if filling and st.once("disk", now, DISK_QUIET_S):
            msg = f"disk filling: {free / 1e9:.1f} GB free, the next checkpoint may not fit"
            self.raise_alert(st, "disk", "warning", msg, now)

    def _ended(self, st: RunAlerts, summary: Dict[str, Any], now: float) -> None:
        status, code, sig = summary["status"], summary.get("exit_code"), summary.get("signal")
        if not st.rules["exit"] or status == STOPPED:
            return  # a stop the user asked for is no news to them
        if summary.get("exit_code_known") is False:  # adopted: nothing could wait for it
            msg = "ended (exit code unknown: it was started outside rdt-tui)"
            self.raise_alert(st, "exit", "info", msg, now)
        elif status == "lost":
            msg = "lost: no process and no exit record (node rebooted, or the monitor killed)"
            self.raise_alert(st, "exit", "error", msg, now)
        elif sig:
            self.raise_alert(st, "exit", "error", f"killed by signal {sig}", now, code=code)
        elif code == 0:
            self.raise_alert(st, "exit", "info", "finished (exit code 0)", now, code=0)
        else:
            self.raise_alert(st, "exit", "error", f"exited with code {code}", now, code=code)

    # ----- raising -----------------------------------------------------------------------
    def raise_alert(
        self, st: Optional[RunAlerts], kind: str, severity: str, message: str, now: float, **extra
    ) -> Dict[str, Any]:
        record: Dict[str, Any] = {
            "t": now,
            "host": self.host,
            "run": st.run_id if st else None,
            "kind": kind,
            "severity": severity,
            "message": message,
        }
        record.update(extra)
        record = self.log.append(record)
        if st is not None:
            # Before the POST: a daemon killed once the webhook has it must not raise it again.
            st.save(now, force=True)
        if self.notifier is not None:
            self.notifier.submit(record)
        return record
