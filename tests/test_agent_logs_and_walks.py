"""Whatever a job writes or leaves on disk stays bounded for the agent: a line longer than
memory should hold, a log truncated in place, directories that link back on themselves, a full
state disk, an agent.log written without end."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import sys
import time

import pytest

from rdt_tui.agent import facts as node_facts
from rdt_tui.agent.files import safe_glob
from rdt_tui.agent.follower import MAX_LINE, LogFollower, tail_lines
from rdt_tui.core.lines import CUT_MARK, LineSplitter
from rdt_tui.core.preflight import evaluate

from .conftest import Agent, script, wait_status

PY = sys.executable


# ----- long lines -----------------------------------------------------------------------------
def test_a_line_longer_than_the_cap_is_cut_with_a_marker_and_memory_stays_flat(
    workdir: str,
) -> None:
    path = os.path.join(workdir, "output.log")
    with open(path, "wb") as fh:
        fh.write(b"step=1 loss=0.5\n")
        for _ in range(40):  # 40 MiB on one line, no terminator yet
            fh.write(b"x" * (1 << 20))
    follower = LogFollower(path)
    seen = []
    peak = 0
    while True:
        lines, more = follower.read()
        seen.extend(lines)
        peak = max(peak, follower._splitter.pending)
        if not more:
            break
    assert seen[0] == "step=1 loss=0.5"
    assert seen[1] == "x" * MAX_LINE + CUT_MARK and len(seen) == 2
    assert peak <= MAX_LINE  # never the whole line in memory
    with open(path, "ab") as fh:
        fh.write(b"yyy\r\nstep=2 loss=0.25\n")
    lines, _ = follower.read()
    assert lines == ["step=2 loss=0.25"]  # the rest of the cut line is skipped, not a line
    assert follower.offset == os.path.getsize(path)


def test_the_splitter_cap_keeps_terminators_across_chunks() -> None:
    s = LineSplitter(0, max_line=4)
    got = s.feed(b"ab\r") + s.feed(b"\nabcdefgh") + s.feed(b"ij\r") + s.feed(b"\nok\n")
    assert got == ["ab", "abcd" + CUT_MARK, "ok"]
    assert s.consumed == len(b"ab\r\nabcdefghij\r\nok\n")
    assert LineSplitter(0, 4).feed(b"abcdefgh\nxy\n") == ["abcd" + CUT_MARK, "xy"]


def test_tail_of_a_file_without_newline_reads_a_bounded_amount(workdir: str) -> None:
    path = os.path.join(workdir, "output.log")
    with open(path, "wb") as fh:
        fh.write(b"first\nsecond\n")
        fh.write(b"z" * (24 << 20))
    out = tail_lines(path, 5)
    assert out["end"] == os.path.getsize(path)
    assert len(out["lines"]) == 1 and len(out["lines"][0]) < 2 * MAX_LINE
    assert CUT_MARK in out["lines"][0] and CUT_MARK.strip() in out["lines"][0][:40]
    with open(path, "wb") as fh:
        fh.write(b"a\r\nb\rc\n\nd")
    assert tail_lines(path, 10)["lines"] == ["a", "b", "c", "", "d"]
    assert tail_lines(path, 2)["lines"] == ["", "d"]


@pytest.mark.asyncio
async def test_logs_tail_of_a_huge_unterminated_line_answers_a_cut_line(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    job = script(
        workdir,
        "long.py",
        """
        import sys
        print("step=1 loss=0.5", flush=True)
        for _ in range(40):
            sys.stdout.write("q" * (1 << 20))
        sys.stdout.flush()
        """,
    )
    run = (await c.launch([PY, job], cwd=workdir))["id"]
    await wait_status(c, run, {"exited"})
    # Reading back stops after (3 + 1) x MAX_LINE bytes: the 40 MiB line comes out alone, cut,
    # and marked at both ends (its start was never read).
    tail = await c.tail(run, 3)
    assert len(tail["lines"]) == 1 and len(tail["lines"][0]) < 2 * MAX_LINE
    assert tail["lines"][0].startswith(CUT_MARK.strip()) and tail["lines"][0].endswith(CUT_MARK)
    short = await c.tail(run, 200)  # a budget that reaches the line before it
    assert short["lines"][0] == "step=1 loss=0.5" and short["lines"][1].endswith(CUT_MARK)
    points = await asyncio.wait_for(c.all_metrics(run), 60)
    assert [(p["name"], p["step"]) for p in points] == [("loss", 1)]


# ----- a log truncated in place (logrotate's copytruncate) ----------------------------------
@pytest.mark.asyncio
async def test_follow_and_metrics_go_on_after_a_copytruncate(agent: Agent, workdir: str) -> None:
    c = await agent.client()
    job = script(
        workdir,
        "steady.py",
        """
        import time
        print("pad " * 50000, flush=True)  # an offset far beyond what regrows in a while
        for i in range(1, 2000):
            print(f"tick {i} step={i} loss={1.0 / i:.5f}", flush=True)
            time.sleep(0.05)
        """,
    )
    run = (await c.launch([PY, job], cwd=workdir))["id"]
    log = os.path.join(agent.state_dir, "runs", run, "output.log")
    sub = await c.subscribe(run, gpu=False)
    text = ""
    while "tick 40 " not in text:
        ev = await sub.next(30)
        if ev["event"] == "log":
            text += ev["data"]["text"]
    shutil.copy(log, log + ".1")
    os.truncate(log, 0)  # the writer appends (O_APPEND): new lines start at offset 0
    cut_at = int(text.strip().splitlines()[-1].split()[1])
    after = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ev = await sub.next(30)
        if ev["event"] == "log":
            after += ev["data"]["text"]
        ticks = [int(x.split()[1]) for x in after.splitlines() if x.startswith("tick")]
        if ticks and max(ticks) > cut_at + 20:
            break
    else:
        raise AssertionError(f"the follow stalled after the truncation: {after[-300:]!r}")
    await sub.close()
    with open(log) as fh:
        first_after = int(fh.readline().split()[1])
    assert first_after in ticks, (first_after, ticks[:5])  # the new file from its start
    assert ticks[ticks.index(first_after) :] == list(range(first_after, max(ticks) + 1))
    page = await c.metrics(run)
    steps = [p["step"] or 0 for p in page["points"] if p["name"] == "loss"]
    assert max(steps) > cut_at + 20
    await c.stop(run, grace=1)


# ----- directories that link back on themselves ---------------------------------------------
def loop_tree(root: str) -> None:
    os.makedirs(os.path.join(root, "a", "b"))
    os.makedirs(os.path.join(root, "checkpoint-100"))
    for name in ("ep0.hdf5", os.path.join("a", "ep1.hdf5"), os.path.join("a", "b", "ep2.hdf5")):
        with open(os.path.join(root, name), "wb") as fh:
            fh.write(b"\x89HDF\r\n\x1a\n" + b"0" * 100)
    os.symlink("..", os.path.join(root, "a", "up"))
    os.symlink("../..", os.path.join(root, "a", "b", "upup"))


def test_safe_glob_equals_glob_without_links_and_ends_with_loops(workdir: str) -> None:
    plain = os.path.join(workdir, "plain")
    os.makedirs(os.path.join(plain, "x", ".hidden"))
    os.makedirs(os.path.join(plain, "ck", "checkpoint-5", "ema"))
    for name in ("x/a.hdf5", "x/.hidden/b.hdf5", "ck/net_10.pth", "ck/checkpoint-5/ema/m.pth"):
        with open(os.path.join(plain, name), "w"):
            pass
    for pattern in ("**/*.hdf5", "*/*.pth", "**/checkpoint-*", "x/*", "**/.hidden/*", "*"):
        want = glob.glob(os.path.join(glob.escape(plain), pattern), recursive=True)
        assert sorted(safe_glob(plain, pattern)) == sorted(want), pattern
    looped = os.path.join(workdir, "looped")
    loop_tree(looped)
    found = sorted(os.path.relpath(p, looped) for p in safe_glob(looped, "**/*.hdf5"))
    assert found == ["a/b/ep2.hdf5", "a/ep1.hdf5", "ep0.hdf5"]
    deep = safe_glob(looped, "a/up/a/up/ep0.hdf5")  # explicit parts may go through a link
    assert deep == [os.path.join(looped, "a/up/a/up/ep0.hdf5")]


@pytest.mark.asyncio
async def test_scans_manifests_and_dataset_checks_end_on_symlink_loops(
    agent: Agent, workdir: str
) -> None:
    loop_tree(workdir)
    c = await agent.client()
    run = (
        await c.launch([PY, "-c", "print('hi')"], cwd=workdir, checkpoint_globs=["**/checkpoint-*"])
    )["id"]
    await wait_status(c, run, {"exited"})
    listing = await asyncio.wait_for(c.checkpoints(run), 60)
    assert [ck["name"] for ck in listing["checkpoints"]] == ["checkpoint-100"]
    manifest = await asyncio.wait_for(
        c.call("manifest", {"path": workdir, "glob": "*.hdf5"}, timeout=60), 60
    )
    assert sorted(manifest["files"]) == ["a/b/ep2.hdf5", "a/ep1.hdf5", "ep0.hdf5"]
    facts = await asyncio.wait_for(
        c.call(
            "preflight",
            {"params": {"dataset_dir": workdir, "hub": False, "packages": []}, "cwd": workdir},
            timeout=120,
        ),
        120,
    )
    assert facts["dataset"]["count"] == 3


# ----- the state directory's disk -----------------------------------------------------------
def test_preflight_checks_free_space_of_the_state_directory(state_dir: str) -> None:
    os.environ["RDT_TUI_STATE_DIR"] = state_dir
    try:
        gathered = node_facts.gather({"hub": False, "packages": []}, None, {}, {}, [])
    finally:
        del os.environ["RDT_TUI_STATE_DIR"]
    assert gathered["state_dir"]["path"] == state_dir and gathered["state_dir"]["free"] > 0
    checks = {c["id"]: c for c in evaluate(gathered, {})}
    assert checks["state_dir"]["status"] in ("pass", "warn", "fail")
    for free, want in ((100 << 20, "fail"), (1 << 30, "warn"), (50 << 30, "pass")):
        facts = {"state_dir": {"path": "/s", "free": free, "total": 100 << 30}}
        got = {c["id"]: c for c in evaluate(facts, {})}["state_dir"]
        assert got["status"] == want, (free, got)
        assert want == "pass" or "state_dir" in got["hint"]


# ----- agent.log ----------------------------------------------------------------------------
LOG_WRITER = """
import os, sys
from rdt_tui.agent.supervise import AgentLog
path, kind = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
os.dup2(fd, 2)
log = AgentLog(path, max_bytes=20000)
if kind == "same":
    for i in range(5000):
        log.error("same", "the same failure")
else:
    for i in range(2000):
        log.error(f"k{i}", f"failure number {i} " + "x" * 40)
log.info("last words")
"""


def write_log(path: str, kind: str) -> list[str]:
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run([PY, "-c", LOG_WRITER, path, kind], check=True, env=env, timeout=60)
    with open(path) as fh:
        return fh.read().splitlines()


def test_agent_log_counts_repeats_and_is_rotated(workdir: str) -> None:
    same = write_log(os.path.join(workdir, "same.log"), "same")
    assert len(same) == 2 and "the same failure" in same[0] and "last words" in same[1]
    path = os.path.join(workdir, "agent.log")
    lines = write_log(path, "many")
    assert sorted(os.listdir(workdir)) == ["agent.log", "agent.log.1", "same.log"]
    assert os.path.getsize(path) <= 20000 and os.path.getsize(path + ".1") <= 20000
    assert "last words" in lines[-1] and "failure number 1999" in lines[-2]


def test_follower_sees_a_copytruncate_even_when_the_file_regrew_past_its_offset(
    workdir: str,
) -> None:
    path = os.path.join(workdir, "output.log")
    with open(path, "w") as fh:
        fh.writelines(f"old step={i} loss=1.0\n" for i in range(100))
    follower = LogFollower(path)
    assert len(follower.read()[0]) == 100
    with open(path, "r+") as fh:  # copytruncate, then a fast writer: longer than before
        fh.truncate(0)
        fh.writelines(f"new step={i} loss=0.5\n" for i in range(300))
    lines, _ = follower.read()
    assert lines[0] == "new step=0 loss=0.5" and len(lines) == 300
    assert follower.truncations == 1
    with open(path, "a") as fh:
        fh.write("new step=300 loss=0.5\n")
    assert follower.read()[0] == ["new step=300 loss=0.5"]  # plain growth is not a rewrite
