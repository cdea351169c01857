"""The console's hosts, profiles, cluster and alerts, driven by Pilot against real agents,
real config files and real jobs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import textwrap
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from rdt_tui.client import AgentClient
from rdt_tui.transport.local import LocalTransport
from rdt_tui.tui.app import make_app, make_console_app
from rdt_tui.tui.confirm import Confirm
from rdt_tui.tui.host_form import HostForm
from rdt_tui.tui.screens.cluster_screen import ClusterScreen
from rdt_tui.tui.screens.dashboard import DashboardScreen
from rdt_tui.tui.screens.hosts_screen import HostRow, HostsScreen
from rdt_tui.tui.screens.launch_screen import LaunchScreen
from rdt_tui.tui.screens.runs_screen import RunsScreen
from rdt_tui.tui.widgets.gpu_pane import GpuPane
from rdt_tui.tui.widgets.loss_chart import LossChart
from rdt_tui.tui.widgets.status_bar import StatusBar

from .test_tui_dashboard import on_dashboard, until

pytestmark = pytest.mark.asyncio


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def user_config(workdir: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty user config dir and ssh config; the project dir is the test's own."""
    cfg = os.path.join(workdir, "cfg")
    os.makedirs(cfg)
    ssh_config = os.path.join(workdir, "ssh_config")
    open(ssh_config, "w").close()
    monkeypatch.setenv("RDT_TUI_CONFIG_DIR", cfg)
    monkeypatch.setenv("RDT_TUI_SSH_CONFIG", ssh_config)
    monkeypatch.chdir(workdir)
    return cfg


async def to_profiles(app: Any, pilot: Any, host: str) -> RunsScreen:
    """From the hosts screen, once ``host`` is reachable, to its runs screen with the
    profiles listed and their table focused."""
    await until(lambda: isinstance(app.screen, HostsScreen))
    await until(lambda: app.screen.status.get(host) == "reachable")
    await pilot.press("enter")
    await until(lambda: isinstance(app.screen, RunsScreen))
    runs = app.screen
    assert isinstance(runs, RunsScreen)
    profiles = runs.query_one("#profiles", DataTable)
    await until(lambda: profiles.row_count >= 1)
    profiles.focus()
    return runs


def ring_console(workdir: str) -> tuple[Any, dict[str, str]]:
    """A console over two local "nodes" (each its own agent state dir) and, in ``workdir``,
    a profile running tests/jobs/ring.py on both; ``drop_nodes`` the dirs after."""
    from .sshd import free_port

    runs_dir = os.path.join(workdir, "configs", "runs")
    os.makedirs(runs_dir)
    shutil.copy(RING, os.path.join(workdir, "ring.py"))
    with open(os.path.join(runs_dir, "aa-ring.toml"), "w") as fh:
        fh.write(
            f'hosts = ["node-a", "node-b"]\nmain_process_port = {free_port()}\n'
            f'command = ["{sys.executable}", "ring.py", "{{node_rank}}", "{{num_machines}}", '
            '"{main_process_ip}", "{main_process_port}"]\n'
            f'cwd = "{workdir}"\n'
        )
    dirs = {h: tempfile.mkdtemp(prefix=f"rdt-{h}-", dir="/tmp") for h in ("node-a", "node-b")}
    rows = [HostRow(h, "127.0.0.1", "") for h in dirs]
    app = make_console_app(rows, lambda h: AgentClient(LocalTransport(dirs[h])))
    return app, dirs


def drop_nodes(dirs: dict[str, str]) -> None:
    from .conftest import _kill_runs_of, _stop_daemon

    for d in dirs.values():
        _kill_runs_of(d)
        _stop_daemon(d)
        shutil.rmtree(d, ignore_errors=True)


def local_factory(state_dir: str, simulate_gpus: int = 0) -> Any:
    from rdt_tui.cli import make_client

    def factory(name: str) -> AgentClient:
        if name == "localhost":
            return AgentClient(LocalTransport(state_dir, simulate_gpus=simulate_gpus))
        return make_client(name)

    return factory


async def test_hosts_are_added_and_edited_in_the_users_file_and_a_refusing_host_is_named(
    state_dir: str, user_config: str
) -> None:
    from rdt_tui.cli import host_actions, host_rows

    port = closed_port()
    app = make_console_app(host_rows(), local_factory(state_dir), actions=host_actions())
    path = os.path.join(user_config, "hosts.toml")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, HostsScreen))
        hosts = app.screen
        assert isinstance(hosts, HostsScreen)
        await pilot.press("a")
        await until(lambda: isinstance(app.screen, HostForm))
        form = app.screen
        form.query_one("#host-name", Input).value = "gpu-b"
        form.query_one("#host-hostname", Input).value = "127.0.0.1"
        form.query_one("#host-port", Input).value = str(port)
        form.query_one("#host-python", Input).value = "/opt/conda/envs/rdt/bin/python"
        await pilot.press("ctrl+s")
        await until(lambda: isinstance(app.screen, HostsScreen))
        with open(path) as fh:
            saved = fh.read()
        assert 'name = "gpu-b"' in saved and f"port = {port}" in saved
        table = hosts.query_one(DataTable)
        await until(lambda: table.row_count == 2)
        # Nothing listens there: the row says so and the console keeps going.
        await until(lambda: hosts.status.get("gpu-b", "checking...") != "checking...")
        assert "unreachable" in hosts.status["gpu-b"].lower()
        # The save re-checks every host at once: localhost may answer after gpu-b's refusal.
        await until(lambda: hosts.status.get("localhost") == "reachable")
        # Edit with a bad port: the form shows why, the file is untouched.
        table.move_cursor(row=1)
        await pilot.press("e")
        await until(lambda: isinstance(app.screen, HostForm))
        form = app.screen
        assert form.query_one("#host-python", Input).value == "/opt/conda/envs/rdt/bin/python"
        form.query_one("#host-port", Input).value = "99999"
        await pilot.press("ctrl+s")
        error = form.query_one("#error", Static)
        await until(lambda: "port" in str(error.render()))
        assert isinstance(app.screen, HostForm)
        with open(path) as fh:
            assert fh.read() == saved
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, HostsScreen))
        assert app.is_running


async def test_cluster_view_lists_every_gpu_of_the_connected_hosts(state_dir: str) -> None:
    rows = [HostRow("localhost", "this machine", "")]
    app = make_console_app(rows, local_factory(state_dir, simulate_gpus=8))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, HostsScreen))
        await until(lambda: app.screen.status.get("localhost") == "reachable")  # type: ignore[attr-defined]
        await pilot.press("c")
        await until(lambda: isinstance(app.screen, ClusterScreen))
        table = app.screen.query_one(DataTable)
        await until(lambda: table.row_count == 8)
        models = {str(table.get_row_at(i)[2]) for i in range(8)}
        assert models == {"SIMULATED GPU"}
        assert {str(table.get_row_at(i)[1]) for i in range(8)} == {str(i) for i in range(8)}
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, HostsScreen))


PROFILE_JOB = textwrap.dedent("""
    import sys, time
    steps = int(sys.argv[1])
    for i in range(1, steps + 1):
        print(f"step={i} loss={1 / i:.5}", flush=True)
        time.sleep(0.05)
""")


async def test_profiles_on_the_runs_screen_a_broken_one_is_a_message_a_good_one_launches(
    state_dir: str, workdir: str, user_config: str
) -> None:
    runs_dir = os.path.join(workdir, "configs", "runs")
    os.makedirs(runs_dir)
    job = os.path.join(workdir, "job.py")
    with open(job, "w") as fh:
        fh.write(PROFILE_JOB)
    with open(os.path.join(runs_dir, "aa-broken.toml"), "w") as fh:
        fh.write('command = "python train.py"\n')
    with open(os.path.join(runs_dir, "ab-good.toml"), "w") as fh:
        fh.write(
            f'command = ["{sys.executable}", "{job}", "{{max_steps}}"]\ncwd = "{workdir}"\n'
            "[form]\nmax_steps = 40\n"
        )
    rows = [HostRow("localhost", "this machine", "")]
    app = make_console_app(rows, local_factory(state_dir))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, HostsScreen))
        await until(lambda: app.screen.status.get("localhost") == "reachable")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, RunsScreen))
        profiles = app.screen.query_one("#profiles", DataTable)
        await until(lambda: profiles.row_count >= 2)
        assert str(profiles.get_row_at(0)[1]).startswith("! ")
        await pilot.press("enter")  # the broken one: a message, the screen stays
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen) and app.is_running
        await pilot.press("down", "enter")
        await until(lambda: isinstance(app.screen, LaunchScreen))
        launch = app.screen
        assert isinstance(launch, LaunchScreen)
        # Only the fields the command uses (and GPUs): no batch field to edit in vain.
        assert not launch.query("#per_gpu_batch") and launch.query("#max_steps")
        assert launch.args is not None and launch.args["argv"][-1] == "40"
        await pilot.press("l", "y")
        await until(lambda: on_dashboard(app))
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        await until(lambda: len(dash.query_one(LossChart).series.get("loss", ())) > 20)
        run_id = dash.run_id
        # Back on the runs screen, the same profile's form shows an ETA measured on this run.
        await pilot.press("d")
        await until(lambda: isinstance(app.screen, RunsScreen))
        table = app.screen.query_one("#profiles", DataTable)
        table.focus()
        table.move_cursor(row=1)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, LaunchScreen))
        summary = app.screen.query_one("#summary", Static)
        await until(lambda: f"measured on {run_id}" in str(summary.render()))
        await pilot.press("q")
    async with AgentClient(LocalTransport(state_dir)) as c:
        status = await c.status(run_id)
        assert status["argv"] == [sys.executable, job, "40"]
        await c.stop(run_id, grace=1)


async def test_a_run_that_does_not_exist_is_a_message_not_a_crash(state_dir: str) -> None:
    async def open_run() -> tuple[AgentClient, str]:
        client = AgentClient(LocalTransport(state_dir))
        await client.connect()
        return client, "no-such-run"

    app = make_app(open_run)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: on_dashboard(app))
        bar = app.screen.query_one(StatusBar)
        await until(lambda: "no-such-run" in bar.alert)
        await pilot.pause()
        assert app.is_running


SPIKY_JOB = textwrap.dedent("""
    import time
    for i in range(1, 100000):
        loss = 50.0 if i == 80 else 1.0 + 0.01 * (i % 7)
        print(f"Steps: {i}/4000 [00:01<00:10, loss={loss}]", flush=True)
        time.sleep(0.02)
""")


async def test_loss_spike_alert_eta_and_the_window_keys(state_dir: str, workdir: str) -> None:
    job = os.path.join(workdir, "spiky.py")
    with open(job, "w") as fh:
        fh.write(SPIKY_JOB)
    ids: list[str] = []

    async def open_run() -> tuple[AgentClient, str]:
        client = AgentClient(LocalTransport(state_dir, simulate_gpus=2), reconnect=True)
        await client.connect()
        run = await client.launch([sys.executable, job], cwd=workdir)
        ids.append(run["id"])
        return client, run["id"]

    app = make_app(open_run)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: on_dashboard(app))
        bar = app.screen.query_one(StatusBar)
        await until(lambda: bar.alert.startswith("loss spike at step 80"))
        await until(lambda: bar.total == 4000 and bar.rate is not None)
        assert "ETA -" not in str(bar.render())
        chart = app.screen.query_one(LossChart)
        pane = app.screen.query_one(GpuPane)
        window = pane.window
        await pilot.press("t", "w", "e")
        assert pane.window > window and chart.window is not None and chart.smoothing > 0
        raw, smooth = chart.drawn_points()
        assert raw and smooth and len(raw) <= 400
        await until(lambda: "SIMULATED" in str(pane.render()))
        await pilot.press("q")
    async with AgentClient(LocalTransport(state_dir)) as c:
        assert (await c.status(ids[0]))["status"] == "running"  # quitting left it running
        assert (await c.stop(ids[0], grace=1))["status"] == "stopped"


async def test_the_preflight_checklist_shows_on_the_runs_screen_and_a_fix_applies(
    state_dir: str, workdir: str, user_config: str
) -> None:
    runs_dir = os.path.join(workdir, "configs", "runs")
    os.makedirs(runs_dir)
    script = os.path.join(workdir, "train.sh")
    with open(script, "w") as fh:
        fh.write("#!/bin/sh\necho step=1 loss=1\n")
    with open(os.path.join(runs_dir, "aa-checked.toml"), "w") as fh:
        fh.write(
            f'command = ["./train.sh"]\ncwd = "{workdir}"\n[env]\nWANDB_MODE = "offline"\n'
            f'[preflight]\npython = "{sys.executable}"\npackages = ["json"]\ncpu = true\n'
            'hub = false\nscript = "train.sh"\ndataset_dir = "data"\n'
            'stats_file = "stats.json"\ndataset_name = "agilex"\n'
            'stats_keys = ["observations/qpos"]\n'
        )
    from .test_preflight import make_dataset

    make_dataset(os.path.join(workdir, "data"))
    rows = [HostRow("localhost", "this machine", "")]
    app = make_console_app(rows, local_factory(state_dir))
    async with app.run_test(size=(120, 40)) as pilot:
        runs = await to_profiles(app, pilot, "localhost")
        await pilot.press("p")
        checks = runs.query_one("#checks", DataTable)
        await until(lambda: checks.row_count > 3)
        statuses = {c["id"]: c["status"] for c in runs.checks}
        assert statuses["script"] == "fail" and statuses["gpus"] == "skip"
        checks.move_cursor(row=[c["id"] for c in runs.checks].index("script"))
        await pilot.press("f")
        await until(lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await until(lambda: {c["id"]: c["status"] for c in runs.checks}["script"] == "pass")
        assert os.access(script, os.X_OK)
        # The statistics fix: the computed change is shown before anything is written.
        checks.move_cursor(row=[c["id"] for c in runs.checks].index("stats"))
        await pilot.press("f")
        await until(lambda: isinstance(app.screen, Confirm), timeout=60)
        assert "new entry 'agilex'" in app.screen.question  # type: ignore[attr-defined]
        assert not os.path.exists(os.path.join(workdir, "stats.json"))
        await pilot.press("y")
        await until(lambda: {c["id"]: c["status"] for c in runs.checks}["stats"] == "pass")
        with open(os.path.join(workdir, "stats.json")) as fh:
            assert len(json.load(fh)["agilex"]["state_mean"]) == 128


RESUMABLE_JOB = textwrap.dedent("""
    import os, sys, time
    start = 0
    if "--resume" in sys.argv:
        start = int(sys.argv[sys.argv.index("--resume") + 1].rsplit("-", 1)[1])
    for i in range(start + 1, start + 100000):
        print(f"step={i} loss={1 / i:.5}", flush=True)
        if i == start + 3:
            os.makedirs(f"checkpoint-{i}", exist_ok=True)
        time.sleep(0.05)
""")


async def test_resume_from_the_checkpoint_table_shows_the_command_first(
    state_dir: str, workdir: str, user_config: str
) -> None:
    job = os.path.join(workdir, "job.py")
    with open(job, "w") as fh:
        fh.write(RESUMABLE_JOB)
    profile = os.path.join(workdir, "resumable.toml")
    with open(profile, "w") as fh:
        fh.write(
            f'command = ["{sys.executable}", "{job}"]\ncwd = "{workdir}"\n'
            'resume_args = ["--resume", "{resume}"]\ncheckpoint_globs = ["checkpoint-*"]\n'
        )
    from rdt_tui.config.profiles import load_profile

    ids: list[str] = []

    async def open_run() -> tuple[AgentClient, str]:
        client = AgentClient(LocalTransport(state_dir), reconnect=True)
        await client.connect()
        run = await client.launch_args(load_profile(profile).launch_args())
        ids.append(run["id"])
        return client, run["id"]

    app = make_app(open_run)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: on_dashboard(app))
        dash = app.screen
        from rdt_tui.tui.widgets.checkpoint_table import CheckpointTable

        await until(lambda: dash.query_one(CheckpointTable).row_count == 1)
        await pilot.press("r")
        await until(lambda: isinstance(app.screen, LaunchScreen))
        form = app.screen
        assert isinstance(form, LaunchScreen) and form.args is not None
        ckpt = os.path.join(workdir, "checkpoint-3")
        assert form.args["argv"] == [sys.executable, job, "--resume", ckpt]
        await pilot.press("l", "y")
        await until(lambda: on_dashboard(app) and app.screen is not dash)
        resumed = app.screen
        assert isinstance(resumed, DashboardScreen)
        await until(lambda: resumed.query_one(StatusBar).step is not None)
        assert (resumed.query_one(StatusBar).step or 0) > 3
        ids.append(resumed.run_id)
        await pilot.press("q")
    async with AgentClient(LocalTransport(state_dir)) as c:
        first = await c.metrics(ids[1])
        assert first["points"][0]["step"] == 4  # it continued after checkpoint-3
        for run in ids:
            await c.stop(run, grace=1)


RING = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jobs", "ring.py")


async def test_a_multi_host_profile_launches_from_the_console_and_a_dead_node_is_named(
    workdir: str, user_config: str
) -> None:
    from .conftest import kill_run

    app, dirs = ring_console(workdir)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await to_profiles(app, pilot, "node-a")
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, LaunchScreen))
            command = str(app.screen.query_one("#command", Static).render())
            assert "node-a, node-b" in command and "rank 0" in command
            await pilot.press("l", "y")
            await until(lambda: on_dashboard(app))
            dash = app.screen
            assert isinstance(dash, DashboardScreen) and dash.group is not None
            chart = dash.query_one(LossChart)
            # one merged stream: rank 1's own metric arrives from node-b's agent
            await until(lambda: len(chart.series.get("rank1_loss", ())) > 3)
            report = dash.group.report
            kill_run(report.runs["node-b"])  # a death, not a stop someone asked for
            bar = dash.query_one(StatusBar)
            await until(lambda: "node-b died first" in bar.alert, timeout=60)
            a_status = await dash.group.clients["node-a"].status(report.runs["node-a"])
            assert a_status["status"] != "running"
            await pilot.press("c")
            await until(lambda: isinstance(app.screen, ClusterScreen))
            await pilot.press("q")
    finally:
        drop_nodes(dirs)
