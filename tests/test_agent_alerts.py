"""Alerts while detached: the real agent daemon evaluates the rules with no console attached
and posts to a real HTTP server on 127.0.0.1; the URL (a secret) never leaks."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest

from rdt_tui.agent.notify import QUEUE_MAX

from .conftest import Agent
from .webhook import SECRET_PATH, Webhook

pytestmark = pytest.mark.asyncio
SECRET = SECRET_PATH.rsplit("/", 1)[1]


@pytest.fixture
def hooks() -> Iterator[list[Webhook]]:
    made: list[Webhook] = []
    yield made
    for hook in made:
        hook.close()


def write_notify(state_dir: str, notify: dict[str, Any], rules: dict[str, Any] | None = None):
    """The node's own file, as a user would leave it (0600)."""
    path = os.path.join(state_dir, "notify.json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"notify": notify, "rules": rules or {}}, fh)


def serve(
    hooks: list[Webhook], state_dir: str, fmt: str, hook: Webhook | None = None, **notify: Any
) -> Webhook:
    """A real webhook server (closed by the ``hooks`` fixture), named in the node's file."""
    hook = hook or Webhook()
    hooks.append(hook)
    write_notify(state_dir, {"url": hook.url, "format": fmt, **notify})
    return hook


def job(workdir: str, body: str) -> list[str]:
    path = os.path.join(workdir, "job.py")
    with open(path, "w") as fh:
        fh.write(textwrap.dedent(body))
    return [sys.executable, path]


def steps(workdir: str, end: int, loss: str, every: float = 0.05) -> list[str]:
    """A job printing ``step=i loss=<loss>`` for i in 1..end-1, then alive and silent."""
    return job(
        workdir,
        f"""
        import time
        for i in range(1, {end}):
            print(f"step={{i}} loss={{{loss}}}", flush=True)
            time.sleep({every})
        time.sleep(600)
        """,
    )


async def posts(hook: Webhook, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    for _ in range(int(timeout / 0.05)):
        if len(hook.requests) >= count:
            return list(hook.requests)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(hook.requests)} POSTs after {timeout} s, wanted {count}")


def rdt(state_dir: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RDT_TUI_STATE_DIR=state_dir)
    return subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_run_that_exits_1_detached_is_posted_and_listed(
    agent: Agent, state_dir: str, workdir: str, hooks: list[Webhook]
) -> None:
    hook = serve(hooks, state_dir, "generic")
    c = await agent.client()
    argv = job(workdir, "import sys, time\ntime.sleep(1.5)\nprint('bye')\nsys.exit(1)\n")
    run = await c.launch(argv, cwd=workdir, name="dies")
    await agent.close_all()  # detached: no console on the node while the run dies
    got = await posts(hook, 1)
    body = json.loads(got[0]["body"])
    assert (body["kind"], body["run"], body["code"]) == ("exit", run["id"], 1)
    assert "exited with code 1" in body["text"]
    assert got[0]["path"] == SECRET_PATH
    await asyncio.sleep(1.0)
    assert len(hook.requests) == 1  # one end, one POST

    # The missed alert, with its time, from the command line; the URL never in full.
    listed = rdt(state_dir, "alerts", "localhost", "--json", "--unseen")
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    [alert] = [a for a in doc["alerts"] if a["run"] == run["id"]]
    assert alert["kind"] == "exit" and abs(alert["t"] - got[0]["t"]) < 5
    assert doc["notify"]["url"].endswith("/…") and doc["notify"]["delivered"] == 1
    plain = rdt(state_dir, "alerts", "localhost")
    assert "exited with code 1" in plain.stdout and "webhook: http://127.0.0.1:" in plain.stdout
    with open(os.path.join(state_dir, "agent.log")) as fh:
        agent_log = fh.read()
    assert "127.0.0.1" in agent_log  # the masked URL is logged: the test looks at the right file
    for text in (listed.stdout, plain.stdout, plain.stderr, agent_log):
        assert SECRET not in text and SECRET_PATH not in text


async def test_nan_loss_is_posted_in_slack_format(
    agent: Agent, workdir: str, hooks: list[Webhook]
) -> None:
    hook = Webhook()
    hooks.append(hook)
    c = await agent.client()
    # Pushed from the console's settings this time (the `notify` op), not the node's file.
    pushed = await c.call("notify", {"notify": {"url": hook.url, "format": "slack"}})
    assert SECRET not in json.dumps(pushed)
    argv = steps(workdir, 6, "'nan' if i == 5 else 1.0 / i")
    run = await c.launch(argv, cwd=workdir, name="nan")
    got = await posts(hook, 1)
    body = json.loads(got[0]["body"])
    assert set(body) == {"text"} and "NaN loss at step 5" in body["text"]
    assert run["id"] in body["text"]
    await c.stop(run["id"], grace=2)


async def test_stalled_job_is_posted_with_the_profile_threshold(
    agent: Agent, state_dir: str, workdir: str, hooks: list[Webhook]
) -> None:
    hook = serve(hooks, state_dir, "ntfy")
    c = await agent.client()
    argv = steps(workdir, 8, "1.0 / i")  # then alive and silent: a hung collective
    # A profile's [alerts] table, carried in the launch: seconds instead of 10 minutes.
    run = await c.launch(
        argv, cwd=workdir, name="hang", alerts={"stall_min_s": 2.0, "stall_factor": 5}
    )
    await agent.close_all()
    got = await posts(hook, 1)
    assert got[0]["headers"]["Content-Type"].startswith("text/plain")
    assert "stalled" in got[0]["headers"]["Title"]
    assert "no new step" in got[0]["body"].decode() and run["id"] in got[0]["body"].decode()
    c = await agent.client()
    await c.stop(run["id"], grace=2)


async def test_server_answering_500_twice_then_200_gets_it_once(
    agent: Agent, state_dir: str, hooks: list[Webhook]
) -> None:
    hook = serve(hooks, state_dir, "discord", Webhook(answers=(500, 500, 200)))
    c = await agent.client()
    await c.call("notify", {"test": True})
    got = await posts(hook, 3)
    assert all(json.loads(r["body"])["content"].endswith("a test alert from rdt-tui") for r in got)
    await asyncio.sleep(2.5)  # longer than the next backoff would be
    assert len(hook.requests) == 3
    status = await c.call("alerts", {})
    assert (status["notify"]["delivered"], status["notify"]["failed"]) == (1, 0)


async def test_server_that_never_answers_causes_no_pile_up(
    agent: Agent, state_dir: str, hooks: list[Webhook]
) -> None:
    hook = serve(hooks, state_dir, "generic", Webhook(hang=True), timeout_s=1)
    c = await agent.client()
    for _ in range(QUEUE_MAX * 3):  # each answers at once: the POST is the worker's business
        await asyncio.wait_for(c.call("notify", {"test": True}), 10)
    await posts(hook, 1)
    # The daemon answers while its one delivery worker waits on the dead server.
    runs = await asyncio.wait_for(c.runs(), 10)
    assert runs == []
    status = await c.call("alerts", {})
    n = status["notify"]
    assert n["queued"] <= QUEUE_MAX and n["dropped"] >= QUEUE_MAX * 3 - QUEUE_MAX - 1
    # One at a time, no burst of connections: each POST starts after the one before gave up
    # (timeout_s) and its backoff. By order, not by a count at some moment: a loaded machine
    # takes seconds over the 96 calls above, while the retries go on.
    times = [r["t"] for r in hook.requests]
    assert all(b - a >= 0.5 for a, b in itertools.pairwise(times)), times  # 1 s or more apart
    assert len(status["alerts"]) == QUEUE_MAX * 3  # every alert is still kept on the node


async def test_a_daemon_killed_after_an_alert_does_not_repeat_it(
    agent: Agent, state_dir: str, workdir: str, hooks: list[Webhook]
) -> None:
    hook = serve(hooks, state_dir, "generic")
    c = await agent.client()
    argv = steps(workdir, 400, "'nan' if i >= 5 else 1.0 / i")
    run = await c.launch(argv, cwd=workdir, name="nan-restart")
    await posts(hook, 1)
    os.kill(agent.daemon_pid(), signal.SIGKILL)  # right after the alert: no time to tidy up
    await agent.close_all()
    state = os.path.join(state_dir, "runs", run["id"], "alerts-state.json")

    def judged() -> int:  # the last metric seq the engine judged, as it saved it
        if not os.path.exists(state):
            return 0
        with open(state) as fh:
            return int(json.load(fh)["metric"])

    at_kill = judged()  # saved with the alert, before its POST
    c = await agent.client()  # a new daemon re-adopts the run, NaNs still coming
    # Until the new daemon has judged NaN points past the old one's (not a fixed time, which a
    # slow restart would spend before judging anything), then a little more.
    deadline = time.monotonic() + 60
    while judged() <= at_kill:
        assert time.monotonic() < deadline, "the new daemon judged no new point"
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    kinds = [json.loads(r["body"])["kind"] for r in hook.requests]
    assert kinds == ["nonfinite"]
    assert [a["kind"] for a in (await c.call("alerts", {}))["alerts"]] == ["nonfinite"]
    await c.stop(run["id"], grace=2)


async def test_a_run_that_ends_while_the_daemon_is_down_is_reported_when_it_is_back(
    agent: Agent, state_dir: str, workdir: str, hooks: list[Webhook]
) -> None:
    hook = serve(hooks, state_dir, "generic")
    c = await agent.client()
    go = os.path.join(workdir, "go")  # the job ends once the daemon is down, not at a time
    argv = job(
        workdir,
        f"import os, sys, time\nwhile not os.path.exists({go!r}):\n"
        "    time.sleep(0.05)\nsys.exit(4)\n",
    )
    run = await c.launch(argv, cwd=workdir, name="orphan")
    state = os.path.join(state_dir, "runs", run["id"], "alerts-state.json")
    for _ in range(1200):  # the engine has seen the run alive
        if os.path.exists(state):
            break
        await asyncio.sleep(0.05)
    assert os.path.exists(state), "the engine never judged the live run"
    os.kill(agent.daemon_pid(), signal.SIGKILL)
    await agent.close_all()
    open(go, "w").close()
    exit_file = os.path.join(state_dir, "runs", run["id"], "exit.json")
    for _ in range(1200):  # the shim records the exit with no daemon running
        if os.path.exists(exit_file):
            break
        await asyncio.sleep(0.05)
    assert os.path.exists(exit_file), "the run did not end"
    assert hook.requests == []
    await agent.client()  # a new daemon
    got = await posts(hook, 1)
    body = json.loads(got[0]["body"])
    assert (body["kind"], body["run"], body["code"]) == ("exit", run["id"], 4)


async def test_push_from_settings_then_test_post_and_a_loss_spike(
    agent: Agent, state_dir: str, workdir: str, hooks: list[Webhook]
) -> None:
    hook = Webhook()
    hooks.append(hook)
    cfg = os.path.join(workdir, "cfg")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "settings.toml"), "w") as fh:
        fh.write(f'[notify]\nurl = "{hook.url}"\nformat = "generic"\n[alerts]\nspike_k = 5\n')
    env = dict(os.environ, RDT_TUI_STATE_DIR=state_dir, RDT_TUI_CONFIG_DIR=cfg)
    pushed = subprocess.run(
        [sys.executable, "-m", "rdt_tui.cli", "alerts", "localhost", "--push", "--test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert pushed.returncode == 0, pushed.stderr
    assert SECRET not in pushed.stdout + pushed.stderr
    assert "webhook: http://127.0.0.1:" in pushed.stdout
    got = await posts(hook, 1)
    assert json.loads(got[0]["body"])["kind"] == "test"
    with open(os.path.join(state_dir, "notify.json")) as fh:
        assert json.load(fh)["rules"] == {"spike_k": 5}
    assert os.stat(os.path.join(state_dir, "notify.json")).st_mode & 0o777 == 0o600

    c = await agent.client()
    argv = steps(workdir, 200, "50.0 if i == 120 else 1.0 + 0.01 * (i % 7)", every=0.01)
    run = await c.launch(argv, cwd=workdir, name="spiky")
    got = await posts(hook, 2)
    body = json.loads(got[1]["body"])
    assert (body["kind"], body["run"]) == ("spike", run["id"])
    assert "spike at step 120: 50" in body["message"]
    await c.stop(run["id"], grace=2)
