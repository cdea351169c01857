"""rdt_tui/launch/: the argv builders per launcher, the one set of form defaults, the resume
plan, and the package's place in the layers (pure: no Textual, asyncssh or config)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from rdt_tui.config.profiles import ProfileError, load_profile
from rdt_tui.launch.launchers import LAUNCHERS, LaunchError, launcher_argv
from rdt_tui.launch.plan import FORM_DEFAULTS, LaunchPlan, plan_of_profile, resume_plan

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RENDEZVOUS = ("{num_machines}", "{node_rank}", "{main_process_ip}", "{main_process_port}")


def test_each_launcher_makes_its_argv_of_script_and_args() -> None:
    table = {"script": "train.py", "args": ["--lr", 1], "launcher_args": ["--x"]}
    assert launcher_argv(dict(table, launcher="python", python="py3")) == [
        *("py3", "--x", "train.py", "--lr", "1"),
    ]
    assert launcher_argv(dict(table, launcher="torchrun")) == [
        *("torchrun", "--nproc_per_node", "{processes}", "--x", "train.py", "--lr", "1"),
    ]
    assert launcher_argv(dict(table, launcher="deepspeed")) == [
        *("deepspeed", "--num_gpus", "{processes}", "--x", "train.py", "--lr", "1"),
    ]
    accelerate = launcher_argv(dict(table, launcher="accelerate"))
    assert accelerate[:4] == ["accelerate", "launch", "--num_processes", "{processes}"]
    assert accelerate[-4:] == ["--x", "train.py", "--lr", "1"]
    assert launcher_argv({"command": ["bash", "run.sh", 3]}) == ["bash", "run.sh", "3"]
    assert set(LAUNCHERS) == {"accelerate", "torchrun", "deepspeed", "python", "command"}


@pytest.mark.parametrize("launcher", ["accelerate", "torchrun"])
def test_a_multi_node_launcher_gets_the_rendezvous_placeholders(launcher: str) -> None:
    single = launcher_argv({"launcher": launcher, "script": "t.py"})
    multi = launcher_argv({"launcher": launcher, "script": "t.py"}, multi=True)
    assert not any(p in single for p in RENDEZVOUS)
    assert all(p in multi for p in RENDEZVOUS) and multi[-1] == "t.py"
    if launcher == "accelerate":  # its --num_processes counts every machine's processes
        assert multi[multi.index("--num_processes") + 1] == "{total_processes}"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"launcher": "deepspeed", "script": "t.py", "hosts": ["a", "b"]}, "multi-node"),
        ({"launcher": "python", "script": "t.py", "args": "--lr 1"}, "`args` must be a list"),
        ({"launcher": "accelerate", "script": ""}, 'needs `script = "train.py"`'),
        ({"command": []}, "`command` is required"),
        ({"launcher": "mpirun", "script": "t.py"}, "`launcher` must be one of"),
    ],
)
def test_a_launcher_that_cannot_build_says_why_and_the_profile_names_its_file(
    tmp_path: object, table: dict, message: str
) -> None:
    with pytest.raises(LaunchError, match=message):
        launcher_argv(table, multi=bool(table.get("hosts")))
    path = os.path.join(str(tmp_path), "p.toml")
    with open(path, "w") as fh:
        for key, value in table.items():
            fh.write(f"{key} = {value!r}\n".replace("'", '"'))
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_a_plan_without_a_profile_starts_from_the_profiles_form_defaults(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "bare.toml")
    with open(path, "w") as fh:
        fh.write('command = ["train", "{processes}", "{per_gpu_batch}", "{max_steps}"]\n')
    plan = LaunchPlan("a command", lambda v: {"argv": ["true"]})
    assert plan.values == load_profile(path).form_values() == dict(FORM_DEFAULTS, gpus=[])
    assert plan_of_profile(load_profile(path)).values == plan.values


def test_a_resume_plan_runs_where_the_run_ran_unless_the_profile_spans_hosts(
    tmp_path: object,
) -> None:
    path = os.path.join(str(tmp_path), "r.toml")
    with open(path, "w") as fh:
        fh.write('command = ["t"]\ncwd = "~/proj"\nresume_args = ["--resume", "{resume}"]\n')
    plan = resume_plan(load_profile(path), "/w/ck/checkpoint-4", "/elsewhere")
    args = plan.build(plan.values)
    assert args["argv"] == ["t", "--resume", "/w/ck/checkpoint-4"] and args["cwd"] == "/elsewhere"
    assert plan.title == "profile r, resumed from checkpoint-4"
    assert resume_plan(load_profile(path), "/c", None).build({})["cwd"] == "~/proj"
    with open(path, "a") as fh:
        fh.write('hosts = ["a", "b"]\n')
    group = resume_plan(load_profile(path), "/c", "/home/me/proj")  # each node's own ~
    assert group.hosts == ["a", "b"] and group.build(group.values)["cwd"] == "~/proj"


def test_the_launch_package_is_pure() -> None:
    code = """
        import sys
        before = set(sys.modules)
        import rdt_tui.launch.plan, rdt_tui.launch.launchers
        new = sorted(m for m in set(sys.modules) - before if not m.startswith("rdt_tui.launch"))
        print("\\n".join(m for m in new if m.split(".")[0] not in sys.stdlib_module_names))
    """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["rdt_tui"]  # the package itself; no config, tui, textual


def test_placeholders_are_filled_but_slurm_leaves_the_per_node_ones(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "s.toml")
    with open(path, "w") as fh:
        fh.write(
            'command = ["{console_python}", "{node_rank}", "{main_process_ip}", '
            '"{num_machines}", "{total_processes}", "{processes}", "{x}"]\n'
        )
    one = load_profile(path).launch_args({"processes": 3})["argv"]
    assert one == [sys.executable, "0", "127.0.0.1", "1", "3", "3", "{x}"]
    with open(path, "a") as fh:
        fh.write('scheduler = "slurm"\n[slurm]\nnodes = 2\n')
    two = load_profile(path).launch_args({"processes": 3})["argv"]
    assert two == [sys.executable, "{node_rank}", "{main_process_ip}", "2", "6", "3", "{x}"]
