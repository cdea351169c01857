"""Which processes make up a run, against a fake process table (one layer, every edge named)."""

from __future__ import annotations

import os

from rdt_tui.agent.procs import Proc
from rdt_tui.agent.stopper import run_members


def proc(pid: int, ppid: int, pgid: int = 0, sid: int = 0, start: int = 50) -> Proc:
    return Proc(pid, ppid, pgid or pid, sid or pid, "S", start, f"p{pid}")


STATE = {"shim_pid": 100, "shim_start": 10, "pid": 101, "start_time": 11}


def table(*procs: Proc) -> dict[int, Proc]:
    base = [proc(1, 0), proc(100, 1, 100, 100, start=10), proc(101, 100, 101, 100, start=11)]
    return {p.pid: p for p in [*base, *procs]}


def test_the_tree_the_session_and_the_group_each_hold_what_the_marker_misses() -> None:
    t = table(
        proc(102, 101, 101, 100),  # a child (env -i: no marker)
        proc(103, 100, 103, 103),  # an orphan in its own session, re-parented to the shim
        proc(104, 1, 104, 100),  # re-parented to init, still in the shim's session
        proc(105, 1, 101, 105),  # in the job's group
        proc(106, 1, 106, 106),  # a stranger
    )
    assert run_members(STATE, t, [], {100}) == [101, 102, 103, 104, 105]


def test_never_the_shim_this_daemon_nor_below_another_runs_shim() -> None:
    t = table(
        proc(300, 101, 300, 300),  # a daemon started from inside the run (excluded: it is us)
        proc(301, 300, 301, 301),  # another run's shim, the daemon's child
        proc(302, 301, 302, 301),  # that run's job
        proc(303, 1, 303, 303),  # a process marked for this run
    )
    assert run_members(STATE, t, [303], {100, 300, 301}) == [101, 303]


def test_a_reused_pid_is_a_stranger_and_its_session_and_group_are_not_ours() -> None:
    t = {
        1: proc(1, 0),
        100: proc(100, 1, 100, 100, start=99),  # the shim's pid, now someone else's session
        101: proc(101, 1, 101, 101, start=98),  # the job's pid, now someone else's group
        102: proc(102, 100, 101, 100),
    }
    assert run_members(STATE, t, [], {100}) == []


def test_members_of_a_run_whose_shim_and_job_are_gone_are_still_found() -> None:
    t = {
        1: proc(1, 0),
        104: proc(104, 1, 104, 100),  # the session outlives its leader: the id is not reused
        105: proc(105, 1, 101, 105),
    }
    assert run_members(STATE, t, [], {100}) == [104, 105]


def test_a_state_file_cannot_point_the_stop_at_another_cgroup() -> None:
    from rdt_tui.agent import cgroups

    mount = cgroups.mount_point()
    if mount is not None:
        ours = os.path.join(mount, "user.slice", "rdt-run-abc")
        assert cgroups.of_run(ours, "abc") == ours
        assert cgroups.of_run(os.path.join(mount, "rdt-run-other"), "abc") is None
        assert cgroups.of_run(os.path.join(mount, "user.slice"), "abc") is None
    assert cgroups.of_run("/tmp/rdt-run-abc", "abc") is None
    assert cgroups.of_run(None, "abc") is None
