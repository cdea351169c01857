"""The per-run monitor: starts the job, copies its output into output.log, records how it ended.

The daemon starts one shim per run in a new session. The shim outlives the daemon, so the exit
status is kept even while no daemon runs. The job never sees our disk: its stdout and stderr are
a pipe that the shim drains into ``output.log`` in large reads (no per-line work, so the shim
costs next to no CPU). When the state directory's filesystem is full the shim drops output
(counted, reported in the log once space returns and in the run's status) and the job runs on.
The exit record is written into space reserved at start, so a full disk does not lose it; if
even that fails it is kept in memory and retried.

The shim is the job's child subreaper: a worker whose parent died is re-parented to the shim,
not to init, so it stays in the run's process tree; the shim stays until the last one is gone.
"""

import fcntl
import hashlib
import hmac
import json
import os
import select
import signal
import subprocess
import time
from typing import Any, Dict, List, Optional

from . import cgroups
from .files import read_json, write_json_atomic
from .procs import RUN_ENV, clean_env, start_time

CHUNK = 1 << 20  # one read takes up to 1 MiB from the pipe
PARTIAL_MAX = 64 << 10  # an unterminated line longer than this is written as it is
PIPE_SIZE = 1 << 20  # the most an unprivileged user may ask for by default
# After a small read, let output gather: about 4 wake-ups a second for a chatty job, not one
# a line. The daemon reads output.log once a second, and each wake-up of a sleeping process
# costs (about 0.4 ms of CPU on a 2-core VM, benchmarks/agent_cpu.py). The pipe holds what the
# job prints meanwhile: a 1 MiB pipe fills in BATCH_S only above 4 MiB/s. A job that fast (a
# read of a quarter of the pipe) is waited for only SHORT_WAIT_S for FAST_HOLD_S, so it never
# waits on a full pipe for more than that, except in a burst of over a pipeful after a quiet
# spell (at most BATCH_S, once). A smaller pipe gets a wait in proportion.
BATCH_S = 0.25
SHORT_WAIT_S = 0.01
FAST_HOLD_S = 2.0
SMALL_READ = 64 << 10  # a read under this is "small": wait before the next
DEFAULT_PIPE = 64 << 10  # a pipe's size where F_GETPIPE_SZ cannot tell
RETRY_S = 1.0  # how often a full disk is tried again
NOTICE_WAIT_S = 600.0  # how long an ended run's shim waits for space to report dropped output
RESERVED = 4096
F_SETPIPE_SZ = 1031
F_GETPIPE_SZ = 1032
PR_SET_CHILD_SUBREAPER = 36


def _ignore(signum: int, frame: Any) -> None:
    # A handler rather than SIG_IGN: handlers reset on exec, so the job still gets its signals.
    pass


def seal(record: Dict[str, Any], key: str) -> str:
    """The MAC that shows the exit record was written by the run's own shim."""
    body = json.dumps({k: v for k, v in record.items() if k != "mac"}, sort_keys=True)
    return hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()


def is_sealed(record: Dict[str, Any], key: Optional[str]) -> bool:
    """True when ``record`` carries the MAC of ``key`` (runs made before keys: any record)."""
    if not key:
        return True
    mac = record.get("mac")
    return isinstance(mac, str) and hmac.compare_digest(mac, seal(record, key))


class Slot:
    """A small file whose blocks are allocated at start, rewritten in place later: a full
    disk cannot refuse what is already there. Trailing spaces keep it valid JSON."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: Optional[int] = None
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError:
            return
        try:
            os.write(fd, b" " * RESERVED)
            self.fd = fd
        except OSError:
            os.close(fd)

    def put(self, obj: Dict[str, Any]) -> bool:
        data = json.dumps(obj, sort_keys=True).encode()
        if self.fd is None or len(data) > RESERVED:
            return False
        try:
            os.pwrite(self.fd, data.ljust(RESERVED), 0)
            return True
        except OSError:
            return False

    def commit(self, final_path: str) -> bool:
        """fsync and rename over ``final_path``: readers see all of the record or none."""
        if self.fd is None:
            return False
        try:
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None
            os.rename(self.path, final_path)
            return True
        except OSError:
            return False


class LogSink:
    """output.log, fed from the pipe. Bytes that cannot be written are dropped and counted."""

    def __init__(self, path: str, status: Slot) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.status = status
        self.dropped = 0  # total bytes lost so far
        self.pending = 0  # lost since the last notice in the log
        self.since = 0.0
        self.next_try = 0.0
        self.last = b"\n"
        self.tail = b""  # the unterminated end of the last read

    def write(self, data: bytes) -> None:
        """Whole lines only (up to the last ``\\n`` or ``\\r``): where several shims append to one
        log (the nodes of a Slurm job), their lines never cut into each other. The rest waits
        for the next read, or goes as it is past PARTIAL_MAX or at :meth:`flush`."""
        data = self.tail + data
        cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        if cut == 0 and len(data) < PARTIAL_MAX:
            self.tail = data
            return
        cut = cut or len(data)
        self.tail = data[cut:]
        self._append(data[:cut])

    def flush(self) -> None:
        """The unterminated end too (the job's last words, or its pipe closed)."""
        data, self.tail = self.tail, b""
        if data:
            self._append(data)

    def _append(self, data: bytes) -> None:
        if self.pending and (time.monotonic() < self.next_try or not self._notice()):
            self._drop(len(data))
            return
        done = 0
        try:
            while done < len(data):
                done += os.write(self.fd, data[done:])
        except OSError:
            self._drop(len(data) - done)
        if done:
            self.last = data[done - 1 : done]

    def retry(self) -> None:
        if self.pending and time.monotonic() >= self.next_try:
            self._notice()

    def _drop(self, n: int) -> None:
        if not self.pending:
            self.since = time.time()
        self.pending += n
        self.dropped += n
        self.next_try = time.monotonic() + RETRY_S
        self.status.put({"dropped_bytes": self.dropped, "dropping": True, "since": self.since})

    def _notice(self) -> bool:
        lead = b"" if self.last == b"\n" else b"\n"
        text = "[rdt-tui] {} bytes of output were dropped ({} to {}): {}\n".format(
            self.pending,
            time.strftime("%H:%M:%S", time.localtime(self.since)),
            time.strftime("%H:%M:%S"),
            "no space left in the agent's state directory",
        )
        data = lead + text.encode()
        try:
            if os.write(self.fd, data) != len(data):
                raise OSError("short write")
        except OSError:
            self.next_try = time.monotonic() + RETRY_S
            return False
        self.pending, self.last = 0, b"\n"
        self.status.put({"dropped_bytes": self.dropped, "dropping": False, "since": self.since})
        return True


def _subreaper() -> bool:
    """Become the child subreaper of everything the job starts (Linux 3.4+): orphans are
    re-parented to the shim, not to init. False where it cannot be (no ctypes, not Linux)."""
    try:
        import ctypes  # some minimal Python builds lack _ctypes: then no subreaper

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (ImportError, OSError, AttributeError):
        return False


def _exit_of(status: int) -> Dict[str, Any]:
    if os.WIFSIGNALED(status):  # the exit code a shell would show: 128 + signal
        sig = os.WTERMSIG(status)
        return {"code": 128 + sig, "signal": sig}
    return {"code": os.WEXITSTATUS(status), "signal": None}


def _job_env(spec: Dict[str, Any]) -> Dict[str, str]:
    env = clean_env()
    env.pop(cgroups.DISABLE_ENV, None)
    env.update({str(k): str(v) for k, v in (spec.get("env") or {}).items()})
    env[RUN_ENV] = str(spec["id"])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_shim(run_dir: str) -> int:
    spec: Dict[str, Any] = read_json(os.path.join(run_dir, "spec.json")) or {}
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, _ignore)
    key = str(spec.get("shim_key") or "")
    exit_slot = Slot(os.path.join(run_dir, ".exit.json.reserved"))
    state_slot = Slot(os.path.join(run_dir, ".state.json.reserved"))
    sink = LogSink(os.path.join(run_dir, "output.log"), Slot(os.path.join(run_dir, "shim.json")))
    held: List[str] = ["session"] + (["subreaper"] if _subreaper() else [])
    cgroup = cgroups.create(str(spec["id"]))
    argv: List[str] = [str(a) for a in spec["argv"]]
    state: Dict[str, Any] = {"shim_pid": os.getpid(), "shim_start": start_time(os.getpid())}
    if spec.get("scheduler") == "slurm":  # its pids are a compute node's, not this host's
        state["slurm_node"] = os.environ.get("SLURMD_NODENAME") or "?"
    read_fd, write_fd = os.pipe()
    try:
        fcntl.fcntl(write_fd, F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass  # a smaller pipe only means more wake-ups (past the user's pipe page quota)
    try:
        pipe_size = int(fcntl.fcntl(write_fd, F_GETPIPE_SZ))
    except OSError:
        pipe_size = DEFAULT_PIPE

    def child_setup() -> None:
        # The job leads its own process group inside the shim's session; under Slurm it
        # stays in the batch step's group, which `scancel --signal --full` signals.
        if spec.get("scheduler") != "slurm":
            os.setpgrp()
        if cgroup:
            cgroups.join(cgroup)

    try:
        proc = subprocess.Popen(
            argv,
            cwd=spec.get("cwd") or None,
            env=_job_env(spec),
            stdin=subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
            close_fds=True,
            preexec_fn=child_setup,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        message = "cannot start {}: {}".format(argv[0], getattr(exc, "strerror", None) or exc)
        sink.write(("[rdt-tui] " + message + "\n").encode())
        state.update({"pid": None, "start_time": None, "started_at": time.time(), "held_by": []})
        _record(run_dir, "state.json", state, state_slot)
        record = {"code": 127, "signal": None, "ended_at": time.time(), "error": message}
        _finish_record(run_dir, record, key, exit_slot)
        cgroups.remove(cgroup)
        return 127
    os.close(write_fd)
    if cgroup and cgroups.holds(cgroup, proc.pid):
        held.insert(0, "cgroup")
    else:
        cgroups.remove(cgroup)
        cgroup = None
    held.append("marker")
    state.update(
        {
            "pid": proc.pid,
            "start_time": start_time(proc.pid),
            "started_at": time.time(),
            "pgid": None if spec.get("scheduler") == "slurm" else proc.pid,
            "held_by": held,
            "cgroup": cgroup,
        }
    )
    # Without room for state.json the pump retries it: the job's output never waits on it.
    pending_state = None if _record(run_dir, "state.json", state, state_slot) else state
    _pump(proc, read_fd, sink, run_dir, key, exit_slot, pending_state, pipe_size)
    cgroups.remove(cgroup)
    return 0


def _record(run_dir: str, name: str, obj: Dict[str, Any], slot: Optional[Slot]) -> bool:
    """Write ``name`` atomically: through its reserved slot, else a normal atomic write."""
    final = os.path.join(run_dir, name)
    if slot is not None and slot.put(obj) and slot.commit(final):
        return True
    try:
        write_json_atomic(final, obj)
        return True
    except OSError:
        return False


def _finish_record(run_dir: str, record: Dict[str, Any], key: str, slot: Slot) -> bool:
    """exit.json, sealed with the run's key."""
    if key:
        record["mac"] = seal(record, key)
    return _record(run_dir, "exit.json", record, slot)


def _drain(read_fd: int, sink: LogSink) -> bool:
    """Write what the pipe holds now into the log; False once it is closed."""
    while True:
        try:
            data = os.read(read_fd, CHUNK)
        except BlockingIOError:
            return True
        if not data:
            return False
        sink.write(data)


def _pump(
    proc: "subprocess.Popen[bytes]",
    read_fd: int,
    sink: LogSink,
    run_dir: str,
    key: str,
    slot: Slot,
    pending_state: Optional[Dict[str, Any]],
    pipe_size: int = DEFAULT_PIPE,
) -> None:
    """Drain the pipe and reap children until the job ended, its exit is on disk, and no
    process of the run is left. ``pipe_size``: what the pipe holds (the waits between reads
    are sized by it)."""
    batch = max(SHORT_WAIT_S, BATCH_S * min(1.0, pipe_size / PIPE_SIZE))
    fast_at, fast_until = max(1, pipe_size // 4), 0.0
    buf = bytearray(CHUNK)  # one buffer for every read: no 1 MiB allocation per wake-up
    view = memoryview(buf)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, _ignore)
    os.set_blocking(read_fd, False)
    poller = select.poll()
    poller.register(read_fd, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    sleeper = select.poll()  # the signal pipe alone: the wait between small reads
    sleeper.register(wake_r, select.POLLIN)
    record: Optional[Dict[str, Any]] = None
    pipe_open = children = True
    recorded = False
    while pipe_open or children or not recorded:
        small = True
        for fd, _ev in poller.poll(RETRY_S * 1000):
            if fd == wake_r:
                try:
                    os.read(wake_r, 4096)
                except OSError:
                    pass
                continue
            try:
                n = os.readv(read_fd, [buf])
            except BlockingIOError:
                continue
            if not n:
                pipe_open = False
                poller.unregister(read_fd)
                sink.flush()
                continue
            sink.write(bytes(view[:n]))
            small = n < min(SMALL_READ, fast_at)
            if n >= fast_at:  # a quarter of the pipe came during the last wait: a fast job
                fast_until = time.monotonic() + FAST_HOLD_S
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children = False
                break
            if pid == 0:
                break
            if pid == proc.pid:
                proc.returncode = status  # Popen must not wait for it again
                record = dict(_exit_of(status), ended_at=time.time())
        if pending_state is not None and _record(run_dir, "state.json", pending_state, None):
            pending_state = None
        if record is not None and not recorded:
            # The job's last words are in the pipe before its exit is known: into the log
            # first, so whoever sees exit.json finds the whole output on disk.
            if pipe_open and not _drain(read_fd, sink):
                pipe_open = False
                poller.unregister(read_fd)
            sink.flush()  # its last words, even without a newline
            record["dropped_bytes"] = sink.dropped
            recorded = _finish_record(run_dir, dict(record), key, slot)
            # The run was deleted under us: there is nowhere to record it, nor anyone to read.
            recorded = recorded or not os.path.isdir(run_dir)
        sink.retry()
        # With no child left, a process outside our tree may still hold the pipe (the shim
        # could not become a subreaper): keep draining what it writes until it closes.
        if pipe_open and small:
            # On the signal pipe, not time.sleep: the job's end (SIGCHLD) cuts the wait short.
            wait = SHORT_WAIT_S if time.monotonic() < fast_until else batch
            sleeper.poll(wait * 1000)
    sink.flush()
    os.close(read_fd)
    # Output was dropped and the disk is still full: say so in the log once space returns.
    give_up = time.monotonic() + NOTICE_WAIT_S
    while sink.pending and time.monotonic() < give_up and os.path.isdir(run_dir):
        time.sleep(RETRY_S)
        sink.retry()
