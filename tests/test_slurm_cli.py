"""`rdt-tui launch HOST --profile P` with scheduler = "slurm" against a real Slurm: the run id
and job id at once, the pending reason in `runs` and `queue`, two nodes with the rendezvous
from Slurm, a profile's bad [slurm] table refused before anything is submitted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from .slurm_lab import SlurmLab, slurm  # noqa: F401 - the lab fixture
from .test_cli import rdt, rdt_json

NODE_JOB = """
import os, sys
rank, machines, main, total = sys.argv[1:5]
with open(os.path.join(os.getcwd(), "rank-" + rank), "w") as fh:
    fh.write(" ".join([rank, machines, main, total, os.environ.get("SLURMD_NODENAME", "?")]))
print(f"step={int(rank) + 1} loss=0.5", flush=True)
"""


def profile(workdir: str, body: str) -> str:
    path = os.path.join(workdir, "p.toml")
    with open(path, "w") as fh:
        fh.write(body)
    return path


def wait_json(state_dir: str, run: str, want: set[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        s = rdt_json(state_dir, "status", "localhost", run)
        if s["status"] in want:
            return dict(s)
        assert time.monotonic() < deadline, s
        time.sleep(0.3)


def test_profile_under_slurm_two_nodes_pending_reason_queue_and_rendezvous(
    slurm: SlurmLab,  # noqa: F811
    state_dir: str,
    workdir: str,
) -> None:
    with open(os.path.join(workdir, "node.py"), "w") as fh:
        fh.write(NODE_JOB)
    path = profile(
        workdir,
        f"""
name = "two-nodes"
scheduler = "slurm"
command = [{json.dumps(sys.executable)}, "node.py", "{{node_rank}}", "{{num_machines}}",
           "{{main_process_ip}}", "{{total_processes}}"]
cwd = {json.dumps(workdir)}
[slurm]
partition = "held"
nodes = 2
time = "00:05:00"
""",
    )
    slurm.run("scontrol", "update", "PartitionName=held", "State=DOWN")
    try:
        launched = rdt_json(state_dir, "launch", "localhost", "--profile", path)
        run, job = launched["run"], launched["slurm_job_id"]
        assert job.isdigit()
        with open(os.path.join(state_dir, "runs", run, "job.sbatch")) as fh:
            script = fh.read()
        assert "#SBATCH --nodes=2" in script and "#SBATCH --partition=held" in script
        deadline = time.monotonic() + 30
        while True:
            listed = {r["id"]: r for r in rdt_json(state_dir, "runs", "localhost")}[run]
            if listed.get("slurm_reason") == "PartitionDown":
                break
            assert time.monotonic() < deadline, listed
            time.sleep(0.3)
        assert listed["status"] == "pending"
        text = rdt(state_dir, "runs", "localhost").stdout
        assert "pending (PartitionDown" in text
        queue = rdt_json(state_dir, "queue", "localhost")
        mine = [j for j in queue["jobs"] if j["job_id"] == job]
        assert mine and mine[0]["run"] == run and mine[0]["state"] == "PENDING"
        assert "PartitionDown" in rdt(state_dir, "status", "localhost", run).stdout
    finally:
        slurm.run("scontrol", "update", "PartitionName=held", "State=UP")
    final = wait_json(state_dir, run, {"exited", "failed", "lost"})
    assert final["status"] == "exited" and final["exit_code"] == 0, final
    ranks = {}
    for rank in ("0", "1"):
        with open(os.path.join(workdir, "rank-" + rank)) as fh:
            ranks[rank] = fh.read().split()
    # rank, machines, main address (n1's NodeAddr), total processes, the node it ran on
    assert ranks["0"] == ["0", "2", "127.0.0.1", "2", "n1"]
    assert ranks["1"] == ["1", "2", "127.0.0.1", "2", "n2"]


def test_bad_slurm_table_is_refused_with_the_file_and_nothing_submitted(
    slurm: SlurmLab,  # noqa: F811
    state_dir: str,
    workdir: str,
) -> None:
    path = profile(
        workdir,
        """
scheduler = "slurm"
command = ["true"]
[slurm]
nodes = 0
""",
    )
    out = rdt(state_dir, "launch", "localhost", "--profile", path)
    assert out.returncode != 0
    assert path in out.stderr and "nodes must be a whole number of at least 1" in out.stderr
    assert "Traceback" not in out.stderr
    before = slurm.run("squeue", "-h", "-o", "%i").split()
    body = 'scheduler = "slurm"\ncommand = ["true"]\n[slurm]\npartition = "nope"\n'
    path = profile(workdir, body)
    out = rdt(state_dir, "launch", "localhost", "--profile", path)
    assert out.returncode != 0 and "invalid partition" in out.stderr.lower(), out.stderr
    assert slurm.run("squeue", "-h", "-o", "%i").split() == before
    assert rdt_json(state_dir, "runs", "localhost") == []


def test_preflight_under_slurm_checks_the_partition_and_asks_slurm(
    slurm: SlurmLab,  # noqa: F811
    state_dir: str,
    workdir: str,
) -> None:
    def checks(body: str) -> dict[str, Any]:
        path = profile(workdir, f'scheduler = "slurm"\ncommand = ["true"]\n{body}')
        out = rdt(state_dir, "preflight", "localhost", "--profile", path, "--json")
        assert "Traceback" not in out.stderr, out.stderr
        return {c["id"]: c for c in json.loads(out.stdout)["checks"]}

    good = checks('[slurm]\npartition = "debug"\nnodes = 2\ntime = "00:10:00"\n')
    assert good["slurm_partition"]["status"] == "pass", good["slurm_partition"]
    assert good["slurm_test"]["status"] == "pass", good["slurm_test"]
    assert "gpus" not in good  # the login node's GPUs are not the job's
    unknown = checks('[slurm]\npartition = "nope"\n')
    assert unknown["slurm_partition"]["status"] == "fail"
    assert "debug, held" in unknown["slurm_partition"]["detail"]
    assert "invalid partition" in unknown["slurm_test"]["detail"].lower()
    too_much = checks('[slurm]\npartition = "debug"\nnodes = 3\ntime = "02:00:00"\n')
    detail = too_much["slurm_partition"]["detail"]
    assert too_much["slurm_partition"]["status"] == "fail"
    assert "3 nodes asked, the partition has 2" in detail
    assert "over the partition's MaxTime" in detail


def test_stop_of_a_two_node_job_reaches_every_nodes_task_with_sigint_first(
    slurm: SlurmLab,  # noqa: F811
    state_dir: str,
    workdir: str,
) -> None:
    with open(os.path.join(workdir, "node.py"), "w") as fh:
        fh.write(
            "import os, signal, sys, time\n"
            "rank = sys.argv[1]\n"
            "def on_int(signum, frame):\n"
            "    open(f'int-{rank}', 'w').close()\n"
            "signal.signal(signal.SIGINT, on_int)\n"
            "open(f'up-{rank}', 'w').close()\n"
            "while True:\n"
            "    time.sleep(0.1)\n"
        )
    path = profile(
        workdir,
        f"""
scheduler = "slurm"
command = [{json.dumps(sys.executable)}, "node.py", "{{node_rank}}"]
cwd = {json.dumps(workdir)}
[slurm]
nodes = 2
""",
    )
    run = rdt_json(state_dir, "launch", "localhost", "--profile", path)["run"]
    deadline = time.monotonic() + 60
    while not all(os.path.exists(os.path.join(workdir, f"up-{r}")) for r in "01"):
        assert time.monotonic() < deadline, rdt_json(state_dir, "status", "localhost", run)
        time.sleep(0.2)
    # The grace must outlast Slurm's delivery of the SIGINT (slurmctld, slurmd, the step's
    # daemon) on a loaded machine: the plain scancel after it ends a task before its handler.
    stopped = rdt_json(state_dir, "stop", "localhost", run, "--grace", "5")
    assert stopped["status"] == "stopped", stopped
    assert all(os.path.exists(os.path.join(workdir, f"int-{r}")) for r in "01")
    assert slurm.run("squeue", "-h", "-j", stopped["slurm_job_id"], check=False).strip() == ""
    left = subprocess.run(["pgrep", "-f", os.path.join(workdir, "node.py")], capture_output=True)
    assert left.stdout.strip() == b""


def test_a_slurm_profile_on_a_host_without_sbatch_says_so(
    state_dir: str, workdir: str, monkeypatch: Any
) -> None:
    path = profile(workdir, f'scheduler = "slurm"\ncommand = [{json.dumps(sys.executable)}]\n')
    monkeypatch.setenv("PATH", workdir)  # no sbatch on this "host"
    out = rdt(state_dir, "launch", "localhost", "--profile", path)
    assert out.returncode != 0 and "this host has no sbatch" in out.stderr, out.stderr
    assert "login node" in out.stderr and "Traceback" not in out.stderr
    assert not os.listdir(os.path.join(state_dir, "runs"))
