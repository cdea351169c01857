"""Helpers shared by the benchmark scripts: a realistic training log, timing, a temp agent."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import time

# A tqdm bar of these logs (write_training_log's, format_throughput's rdt), its layout known
# in advance: the least regex work that finds every bar's step, loss and lr.
FLOOR_BAR = re.compile(rb"\| (\d+)/\d+ \[[^,\]]*, [^,\]]*, loss=([^,\]]*), lr=([^\]]*)\]")


def floor_cpu(path: str, pattern: re.Pattern[bytes]) -> tuple[float, int, int]:
    """The floor of any standard-library parse of ``path``: CPU seconds of one findall of
    ``pattern``'s numbers per 4 MiB read, each column made floats by ``map`` (no other line,
    no rule, no store); with the matches and the numbers found."""
    matches = numbers = 0
    t0 = time.process_time()
    with open(path, "rb") as fh:
        while chunk := fh.read(4 << 20):
            found = pattern.findall(chunk)
            matches += len(found)
            for column in zip(*found, strict=True):
                numbers += len(list(map(float, column)))
    return time.process_time() - t0, matches, numbers


def shim_pid(state: str, run: str, timeout: float = 5.0) -> int:
    """A run's shim (it copies the job's output pipe into the log), from its state.json,
    written once the job started."""
    path = os.path.join(state, "runs", run, "state.json")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as fh:
                return int(json.load(fh)["shim_pid"])
        except (OSError, ValueError, KeyError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def write_training_log(path: str, size: int) -> int:
    """An RDT-like log of ``size`` bytes: tqdm updates on \\r, logging lines, sample dicts,
    DeepSpeed chatter. Returns the number of loss updates written."""
    block_lines = []
    for i in range(2000):
        step = i + 1
        block_lines.append(
            f"Steps:  {step % 100:2d}%|#####     | {step}/200000 [01:23<4:56:12, 1.31it/s, "
            f"loss={1.0 / (step + 1):.4g}, lr=0.0001]\r"
        )
        if i % 50 == 0:
            block_lines.append(
                "12/12/2024 07:07:23 - INFO - __main__ - {'agilex_sample_mse': 0.0123, "
                "'overall_avg_sample_mse': 0.0123}\n"
            )
        if i % 97 == 0:
            block_lines.append(
                "[2024-12-12 07:07:27,434] [INFO] [loss_scaler.py:183:update_scale] [deepspeed] "
                "OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536\n"
            )
        if i % 200 == 0:
            block_lines.append(f'{{"train_loss": 0.01, "global_step": {step}, "lr": 1e-4}}\n')
    block = "".join(block_lines).encode()
    updates_per_block = 2000
    written = 0
    blocks = 0
    with open(path, "wb") as fh:
        while written < size:
            fh.write(block)
            written += len(block)
            blocks += 1
    return blocks * updates_per_block


def timed(argv: list[str]) -> float:
    """Wall time of a command. Its output goes to a pipe, not /dev/null: GNU grep notices
    /dev/null and stops at the first match, which would time nothing."""
    t0 = time.perf_counter()
    subprocess.run(argv, check=False, stdout=subprocess.PIPE)
    return time.perf_counter() - t0


def timed_cpu(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of a command and its children (a pipeline's processes summed):
    the CPU figure is steadier than wall time on a machine others share."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = timed(argv)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def scratch_dir() -> str:
    base = os.environ.get("RDT_TUI_BENCH_DIR", "/tmp/rdt-bench")
    os.makedirs(base, exist_ok=True)
    return base


def write_chatty_log(path: str, size: int) -> int:
    """A 1 GB-class log as NCCL_DEBUG=INFO runs make them: mostly chatter, a bar update per
    step. Returns the number of steps written."""
    chatter = "".join(
        f"gpu-node:1234:5678 [{r}] NCCL INFO Channel {c:02d}/02 : {r}[{r}] -> {(r + 1) % 8}"
        f"[{(r + 1) % 8}] via P2P/IPC/read\n"
        for r in range(4)
        for c in range(2)
    )
    step = 0
    written = 0
    with open(path, "wb") as fh:
        while written < size:
            parts = []
            for _ in range(1000):
                step += 1
                parts.append(
                    f"Steps:  1%|#    | {step}/2000000 [01:23<4:56:12, 1.31it/s, "
                    f"loss={1.0 / (step + 1):.4g}, lr=0.0001]\r"
                )
                if step % 2 == 0:
                    parts.append("\n" + chatter)
            data = "".join(parts).encode()
            fh.write(data)
            written += len(data)
    return step


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        fields = fh.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# The stand-in job that writes 1000 log lines/s (shared with the re-attach test).
LOG_WRITER = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "jobs", "log_writer.py"
)


def stop_daemon(state: str) -> None:
    """SIGKILL the agent daemon recorded in a state directory a benchmark made (by its pid,
    nothing else of the user's), after checking the pid still names an rdt-tui agent."""
    try:
        with open(os.path.join(state, "agent.pid")) as fh:
            pid = int(fh.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            if b"rdt" not in fh.read():
                return  # the pid was reused by something else
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass
