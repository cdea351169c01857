"""A real Slurm for the tests: munged, slurmctld and two slurmd (n1, n2) on this machine.

Everything lives under one temp dir (config, state, spool, logs, munge socket); every Slurm
command finds it through ``SLURM_CONF``. No accounting database: ``scontrol show job`` keeps a
finished job for ``MinJobAge`` seconds, after which our own exit record says how it ended.
Partitions: ``debug`` (default, both nodes) and ``held`` (both nodes; tests set it DOWN).
Jobs run as the submitting user (root here). Skipped with a reason when the packages or root
are missing (``apt-get install slurmctld slurmd slurm-client munge``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

COMMANDS = ("sbatch", "squeue", "scontrol", "scancel", "srun", "slurmctld", "slurmd", "munged")


def missing() -> str:
    """Why there can be no lab here ('' when there can)."""
    lacking = [c for c in COMMANDS if not (shutil.which(c) or os.path.exists(f"/usr/sbin/{c}"))]
    if lacking:
        return "Slurm is not installed ({}): {}".format(
            ", ".join(lacking), "apt-get install slurmctld slurmd slurm-client munge"
        )
    if os.geteuid() != 0:
        return "the Slurm lab starts slurmd, which needs root"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no munge user: apt-get install munge"
    if not os.path.exists("/etc/munge/munge.key"):
        return "no munge key: run mungekey (or create-munge-key)"
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sbin(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


CONF = """\
ClusterName=rdtlab
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/ctld
SlurmdSpoolDir={d}/spool/%n
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd-%n.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MinJobAge=30
KillWait=5
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmctldParameters=enable_configless
NodeName=n1 NodeHostname={host} NodeAddr=127.0.0.1 Port={p1} CPUs=2 RealMemory=1000 State=UNKNOWN
NodeName=n2 NodeHostname={host} NodeAddr=127.0.0.1 Port={p2} CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=60 State=UP OverSubscribe=FORCE:4
PartitionName=held Nodes=n1,n2 MaxTime=60 State=UP OverSubscribe=FORCE:4
"""


class SlurmLab:
    def __init__(self, root: str) -> None:
        self.root = root
        self.conf = os.path.join(root, "slurm.conf")
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, SLURM_CONF=self.conf)

    def run(self, *argv: str, check: bool = True, timeout: float = 30) -> str:
        out = subprocess.run(
            list(argv), env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and out.returncode != 0:
            raise AssertionError(f"{argv}: {out.returncode} {out.stderr.strip()}")
        return out.stdout

    def start(self) -> None:
        d = self.root
        for sub in ("ctld", "spool/n1", "spool/n2", "log", "munge"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        munge_dir = os.path.join(d, "munge")
        os.chmod(d, 0o755)
        shutil.chown(munge_dir, "munge", "munge")
        os.chmod(munge_dir, 0o755)
        socket_path = os.path.join(munge_dir, "munge.socket")
        subprocess.run(
            [
                *("runuser", "-u", "munge", "--", _sbin("munged")),
                f"--socket={socket_path}",
                f"--pid-file={munge_dir}/munged.pid",
                f"--log-file={munge_dir}/munged.log",
                f"--seed-file={munge_dir}/munged.seed",
                "--key-file=/etc/munge/munge.key",
            ],
            check=True,
            timeout=20,
        )
        host = socket.gethostname().split(".")[0]
        with open(self.conf, "w") as fh:
            fh.write(
                CONF.format(
                    host=host,
                    d=d,
                    munge_socket=socket_path,
                    ctld_port=_free_port(),
                    p1=_free_port(),
                    p2=_free_port(),
                )
            )
        self._daemon([_sbin("slurmctld"), "-D", "-i", "-f", self.conf], "slurmctld")
        for node in ("n1", "n2"):
            self._daemon([_sbin("slurmd"), "-D", "-N", node, "-f", self.conf], f"slurmd-{node}")
        deadline = time.monotonic() + 60
        while True:
            out = self.run("sinfo", "-h", "-N", "-o", "%N %t", check=False, timeout=10)
            states = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
            if states.get("n1") in ("idle", "mix", "alloc") and states.get("n2") in (
                "idle",
                "mix",
                "alloc",
            ):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"Slurm nodes never came up: {states}\n{self.logs()}")
            time.sleep(0.5)

    def _daemon(self, argv: list[str], name: str) -> None:
        with open(os.path.join(self.root, "log", f"{name}.out"), "wb") as log:
            self.procs.append(
                subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
            )

    def _stepds(self) -> list[int]:
        """The slurmstepd processes of this lab (their environment names its config)."""
        mine = f"SLURM_CONF={self.conf}".encode()
        found = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/cmdline", "rb") as fh:
                    if not fh.read().startswith(b"slurmstepd"):
                        continue
                with open(f"/proc/{name}/environ", "rb") as fh:
                    if mine in fh.read().split(b"\0"):
                        found.append(int(name))
            except OSError:
                continue
        return found

    def logs(self) -> str:
        parts = []
        for name in sorted(os.listdir(os.path.join(self.root, "log"))):
            with open(os.path.join(self.root, "log", name), errors="replace") as fh:
                parts.append(f"== {name}\n" + fh.read()[-3000:])
        return "\n".join(parts)

    def stop(self) -> None:
        # Jobs first, and their end awaited (a slurmstepd outlives its slurmd), then the
        # daemons, then any step daemon of this lab still there, then munged.
        self.run("scancel", "--user", pwd.getpwuid(os.getuid()).pw_name, check=False)
        deadline = time.monotonic() + 20
        while self.run("squeue", "-h", "-o", "%i", check=False).strip():
            if time.monotonic() > deadline:
                break
            time.sleep(0.3)
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for pid in self._stepds():
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        try:
            with open(os.path.join(self.root, "munge", "munged.pid")) as fh:
                munged = int(fh.read().strip())
            os.kill(munged, 15)
        except (OSError, ValueError):
            return
        deadline = time.monotonic() + 10  # it writes its seed file as it exits
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{munged}/stat") as fh:
                    if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                        return
            except (OSError, IndexError):
                return
            time.sleep(0.05)


# Module scope: each test module imports this fixture, which makes it that module's own
# fixture (pytest keeps one per module that defines or imports it). As a "session" fixture,
# every module's lab (munged, slurmctld, two slurmd and their jobs) lived on to the end of
# the whole run: sixteen of them by the end, and SLURM_CONF left aimed at the last one.
@pytest.fixture(scope="module")
def slurm() -> Iterator[SlurmLab]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    lab = SlurmLab(tempfile.mkdtemp(prefix="rdt-slurm-", dir="/tmp"))
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = lab.conf  # the agents the tests start inherit it
    try:
        lab.start()
        yield lab
    finally:
        lab.stop()
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
        shutil.rmtree(lab.root, ignore_errors=True)
