"""The agent with real processes: launch, exit codes, stop escalation, adoption, bad input."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
import time

import pytest

from rdt_tui.agent.procs import RUN_ENV, marked_processes, start_time
from rdt_tui.client import AgentCallError
from rdt_tui.protocol.messages import GpuSample

from .conftest import Agent, wait_status, wait_until

pytestmark = pytest.mark.asyncio


def script(workdir: str, name: str, body: str) -> str:
    path = os.path.join(workdir, name)
    with open(path, "w") as fh:
        fh.write(textwrap.dedent(body))
    return path


async def test_launch_runs_in_its_own_session_with_marker_and_exit_code(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    job = script(
        workdir,
        "job.py",
        """
        import os, sys
        print("sid_differs", os.getsid(0) != os.getsid(os.getppid()) or os.getsid(0) == os.getpid())
        print("marker", os.environ.get("RDT_TUI_RUN"))
        print("unbuffered", os.environ.get("PYTHONUNBUFFERED"))
        print("stdin_empty", sys.stdin.read() == "")
        sys.exit(7)
    """,
    )
    run = await c.launch([sys.executable, job], cwd=workdir, name="exit7")
    assert run["status"] in ("running", "exited")
    final = await wait_status(c, run["id"], {"exited"})
    assert final["exit_code"] == 7
    log = (await c.tail(run["id"], 10))["lines"]
    assert f"marker {run['id']}" in log
    assert "unbuffered 1" in log and "stdin_empty True" in log
    # exit.json was written atomically by the shim: it parses and says the same.
    with open(os.path.join(agent.state_dir, "runs", run["id"], "exit.json")) as fh:
        assert json.load(fh)["code"] == 7


async def test_stop_reaches_workers_that_ignore_signals_or_escape_with_setsid(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    pids_file = os.path.join(workdir, "pids")
    job = script(
        workdir,
        "launcher.py",
        f"""
        import os, signal, subprocess, sys, time
        worker = "import signal, time\\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\\n" \\
                 "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\ntime.sleep(600)"
        stubborn = subprocess.Popen([sys.executable, "-c", worker])
        escaped = subprocess.Popen([sys.executable, "-c", worker], start_new_session=True)
        with open({pids_file!r}, "w") as fh:
            fh.write(f"{{stubborn.pid}} {{escaped.pid}}")
        print("workers up", flush=True)
        time.sleep(600)
    """,
    )
    run = await c.launch([sys.executable, job], cwd=workdir)
    wait_until(
        lambda: os.path.exists(pids_file) and os.path.getsize(pids_file) > 0,
        what="workers to start",
    )
    with open(pids_file) as fh:
        workers = [int(p) for p in fh.read().split()]
    assert set(workers) <= set(marked_processes([run["id"]])[run["id"]])
    assert os.getsid(workers[1]) == workers[1]  # really in a session of its own
    t0 = time.monotonic()
    final = await c.stop(run["id"], grace=1.0)
    assert final["status"] == "stopped"
    assert marked_processes([run["id"]]).get(run["id"], []) == []
    for pid in workers:
        assert start_time(pid) is None, f"worker {pid} survived the stop"
    assert time.monotonic() - t0 < 30


async def test_a_killed_daemon_leaves_the_run_alive_and_a_new_one_adopts_it(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    flag = os.path.join(workdir, "go")
    job = script(
        workdir,
        "job.py",
        f"""
        import os, sys, time
        for i in range(1, 1000):
            print(f"step={{i}} loss={{1.0 / i:.5f}}", flush=True)
            if os.path.exists({flag!r}) and i > 5:
                break
            time.sleep(0.05)
        sys.exit(3)
    """,
    )
    run = await c.launch([sys.executable, job], cwd=workdir)
    await asyncio.sleep(0.5)
    old_daemon = agent.daemon_pid()
    os.kill(old_daemon, signal.SIGKILL)
    await asyncio.sleep(0.5)
    s = await asyncio.get_running_loop().run_in_executor(None, _status_on_disk, agent, run["id"])
    assert s == "running"  # the job does not depend on the daemon
    c2 = await agent.client()  # attach starts a new daemon, which re-adopts the run
    assert c2.info["pid"] != old_daemon
    assert (await c2.status(run["id"]))["status"] == "running"
    open(flag, "w").close()
    final = await wait_status(c2, run["id"], {"exited"})
    assert final["exit_code"] == 3
    got = await c2.all_metrics(run["id"])
    with open(os.path.join(agent.state_dir, "runs", run["id"], "output.log")) as fh:
        expected = [ln for ln in fh.read().splitlines() if ln.startswith("step=")]
    assert [p["step"] for p in got if p["name"] == "loss"] == list(range(1, len(expected) + 1))


def _status_on_disk(agent: Agent, run_id: str) -> str:
    from rdt_tui.agent.runs import RunStore

    return str(RunStore(agent.state_dir).summary(run_id)["status"])


async def test_a_reused_pid_is_not_mistaken_for_the_job(agent: Agent) -> None:
    c = await agent.client()
    run_dir = os.path.join(agent.state_dir, "runs", "ghost-1")
    os.makedirs(run_dir)
    # This very test process plays a stranger that got the job's pid after a reboot.
    me = os.getpid()
    with open(os.path.join(run_dir, "spec.json"), "w") as fh:
        json.dump(
            {
                "id": "ghost-1",
                "argv": ["python", "train.py"],
                "cwd": "/",
                "created_at": time.time() - 3600,
            },
            fh,
        )
    with open(os.path.join(run_dir, "state.json"), "w") as fh:
        json.dump(
            {
                "pid": me,
                "start_time": (start_time(me) or 0) + 12345,
                "shim_pid": me,
                "shim_start": (start_time(me) or 0) + 1,
            },
            fh,
        )
    assert RUN_ENV not in os.environ
    s = await c.status("ghost-1")
    assert s["status"] == "lost"
    listed = {r["id"]: r["status"] for r in await c.runs()}
    assert listed["ghost-1"] == "lost"


async def test_bad_input_gets_a_code_message_and_hint_and_the_daemon_stays_up(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    cases = [
        ({"argv": [], "cwd": workdir}, "bad_command"),
        ({"argv": ["no-such-program-xyz"], "cwd": workdir}, "bad_command"),
        ({"argv": ["true"], "cwd": os.path.join(workdir, "missing")}, "bad_cwd"),
    ]
    for args, code in cases:
        with pytest.raises(AgentCallError) as err:
            await c.call("launch", args)
        assert err.value.code == code and err.value.message and err.value.hint
    with pytest.raises(AgentCallError) as err:
        await c.status("does-not-exist")
    assert err.value.code == "unknown_run"
    with pytest.raises(AgentCallError) as err:
        await c.status("../../etc")
    assert err.value.code == "unknown_run"
    assert (await c.call("hello"))["pid"] == agent.daemon_pid()


async def test_second_launch_onto_busy_gpus_is_refused_unless_forced(
    agent: Agent, workdir: str
) -> None:
    c = await agent.client()
    first = await c.launch(["sleep", "30"], cwd=workdir, gpus=["0", "1"])
    with pytest.raises(AgentCallError) as err:
        await c.launch(["sleep", "30"], cwd=workdir, gpus=["1"])
    assert err.value.code == "gpus_busy" and first["id"] in err.value.message
    other = await c.launch(["sleep", "30"], cwd=workdir, gpus=["2"])
    forced = await c.launch(["sleep", "30"], cwd=workdir, gpus=["1"], force=True)
    for r in (first, other, forced):
        await c.stop(r["id"], grace=0.5)


async def test_corrupt_state_files_are_reported_and_kept(agent: Agent, workdir: str) -> None:
    c = await agent.client()
    run = await c.launch(["true"], cwd=workdir)
    await wait_status(c, run["id"], {"exited"})
    path = os.path.join(agent.state_dir, "runs", run["id"], "exit.json")
    with open(path, "wb") as fh:
        fh.write(b"\x00{not json")
    # Lost once the shim (which wrote exit.json an instant ago) is gone too.
    s = await wait_status(c, run["id"], {"lost"}, timeout=60)
    assert "exit.json" in s["error"]
    with open(path, "rb") as fh:
        assert fh.read() == b"\x00{not json"  # nothing deleted or rewritten
    assert any(r["id"] == run["id"] for r in await c.runs())


async def test_a_log_of_binary_garbage_is_served_without_error(agent: Agent, workdir: str) -> None:
    c = await agent.client()
    job = script(
        workdir,
        "garbage.py",
        """
        import os, sys
        sys.stdout.buffer.write(os.urandom(300000) + b"\\nloss=0.25 step=9\\n")
    """,
    )
    run = await c.launch([sys.executable, job], cwd=workdir)
    await wait_status(c, run["id"], {"exited"})
    points = await c.all_metrics(run["id"])
    assert {"name": "loss", "value": 0.25, "step": 9} in [
        {k: p[k] for k in ("name", "value", "step")} for p in points
    ]
    assert (await c.tail(run["id"], 1))["lines"] == ["loss=0.25 step=9"]


async def test_checkpoint_events_and_listing(agent: Agent, workdir: str) -> None:
    c = await agent.client()
    job = script(
        workdir,
        "ckpt.py",
        """
        import os, shutil, time
        for step in (100, 200, 300):
            d = f"checkpoint-{step}"
            os.makedirs(os.path.join(d, "ema"))
            with open(os.path.join(d, "ema", "model.safetensors"), "wb") as fh:
                fh.write(b"x" * 1000 * step)
            if step == 300:
                shutil.rmtree("checkpoint-100")
        open("last.ckpt", "wb").write(b"y" * 10)
        time.sleep(6)
    """,
    )
    run = await c.launch([sys.executable, job], cwd=workdir)
    sub = await c.subscribe(run["id"], gpu=False)
    events = []
    async for ev in sub:
        if ev["event"] == "checkpoint":
            events.append((ev["data"]["kind"], ev["data"]["checkpoint"]["name"]))
        if ev["event"] == "status" and ev["data"].get("complete"):
            break
    assert ("added", "checkpoint-200") in events and ("added", "checkpoint-300") in events
    listing = await c.checkpoints(run["id"])
    names = [(ck["name"], ck["step"]) for ck in listing["checkpoints"]]
    assert names == [("checkpoint-200", 200), ("checkpoint-300", 300), ("last.ckpt", None)]
    ck300 = listing["checkpoints"][1]
    assert ck300["size"] == 300000 and ck300["notable"] == ["ema/model.safetensors"]
    assert (listing["disk"]["free"] or 0) > 0


async def test_simulated_gpus_are_labelled_and_sampled_at_the_asked_rate(agent: Agent) -> None:
    c = await agent.client(simulate_gpus=4)
    assert c.info["simulated_gpus"] == 4
    sub = await c.subscribe(None, {"gpu": 0}, gpu=True)
    samples: list[GpuSample] = []
    async for ev in sub:
        assert ev["event"] == "gpu"  # a subscription to no run has GPU samples only
        samples.append(ev["data"])
        if len(samples) == 3:
            break
    assert all(s["simulated"] and len(s["gpus"]) == 4 for s in samples)
    assert all("SIMULATED" in g["name"] for g in samples[0]["gpus"])
    assert (samples[0]["host"]["mem_total"] or 0) > 0
    spacing = samples[2]["t"] - samples[1]["t"]
    # Event-based, not a wall-clock window: one event per sampler tick (the agent's own
    # consecutive samples, none skipped or repeated), each a new reading, and the sampler
    # runs at the interval it was asked for.
    held = await c.gpus(limit=0)
    times = [s["t"] for s in held["samples"]]
    first = times.index(samples[0]["t"])
    assert times[first : first + 3] == [s["t"] for s in samples]
    assert spacing > 0 and samples[1]["t"] > samples[0]["t"]
    assert held["interval"] == 1.0
