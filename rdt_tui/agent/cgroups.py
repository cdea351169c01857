"""A cgroup v2 per run, where the user may create one: nothing the job starts can leave it.

A process cannot leave its cgroup by forking, ``setsid``, re-exec or a clean environment, so
the run's cgroup holds every process the job started, whatever it did. We create one only where
the OS lets this user: under the shim's own cgroup when that directory is writable (a delegated
cgroup v2 subtree: a systemd user unit with ``Delegate=yes``, a container, root). Elsewhere
(an SSH session's scope belongs to root) nothing is created and the run is held by its session,
process group, the shim as child subreaper and the marker; the run's status says which.

The shim itself stays outside the run's cgroup, so ``cgroup.kill`` never takes the monitor that
records the exit. A run cgroup is never nested in another run's: a daemon started from inside a
run moves itself out first, so stopping that run cannot reach later runs.
"""

import os
from typing import List, Optional

PREFIX = "rdt-run-"
DISABLE_ENV = "RDT_TUI_CGROUP"  # "off": do not create cgroups (tests of the fallback)


def mount_point() -> Optional[str]:
    """Where the cgroup v2 hierarchy is mounted (``/sys/fs/cgroup`` or ``.../unified``)."""
    try:
        with open("/proc/self/mountinfo") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in lines:
        left, sep, right = line.partition(" - ")
        if sep and right.split(" ", 1)[0] == "cgroup2":
            return left.split(" ")[4].replace("\\040", " ")
    return None


def cgroup_of(pid: str = "self") -> Optional[str]:
    """The cgroup v2 path of a process (``/user.slice/...``); None without cgroup v2."""
    try:
        with open(f"/proc/{pid}/cgroup") as fh:
            for line in fh:
                if line.startswith("0::"):
                    return line[3:].strip()
    except OSError:
        pass
    return None


def _outside_runs(path: str) -> str:
    """``path`` cut above the first run cgroup in it."""
    parts = [p for p in path.split("/") if p]
    for i, part in enumerate(parts):
        if part.startswith(PREFIX):
            parts = parts[:i]
            break
    return "/" + "/".join(parts)


def base_dir() -> Optional[str]:
    """The directory run cgroups are made in: our own cgroup, outside any run's."""
    if os.environ.get(DISABLE_ENV, "").lower() in ("off", "0", "no"):
        return None
    mount, own = mount_point(), cgroup_of()
    if mount is None or own is None:
        return None
    path = os.path.join(mount, _outside_runs(own).lstrip("/"))
    if not os.access(os.path.join(path, "cgroup.procs"), os.W_OK):
        return None  # not delegated to this user
    return path


def create(run_id: str) -> Optional[str]:
    """A fresh cgroup for ``run_id`` that this user may move processes into; None if none."""
    base = base_dir()
    if base is None:
        return None
    path = os.path.join(base, PREFIX + run_id)
    try:
        os.mkdir(path)
    except OSError:  # an existing one is not ours to reuse: its processes are another run's
        return None
    if not os.access(os.path.join(path, "cgroup.procs"), os.W_OK):
        remove(path)
        return None
    return path


def of_run(path: object, run_id: str) -> Optional[str]:
    """``path`` when it is the cgroup this agent makes for ``run_id``: a damaged or edited
    state.json must not point a stop's ``cgroup.kill`` at something else."""
    if not isinstance(path, str) or os.path.basename(path) != PREFIX + run_id:
        return None
    mount = mount_point()
    if mount is None or not os.path.realpath(path).startswith(mount.rstrip("/") + "/"):
        return None
    return path


def join(path: str) -> bool:
    """Move the calling process into ``path``; False when the OS refused."""
    try:
        with open(os.path.join(path, "cgroup.procs"), "w") as fh:
            fh.write("0")
        return True
    except OSError:
        return False


def holds(path: str, pid: int) -> bool:
    """True when ``pid`` lives in ``path`` (or below it)."""
    mount = mount_point()
    own = cgroup_of(str(pid))
    if mount is None or own is None:
        return False
    inside = os.path.join(mount, own.lstrip("/"))
    return inside == path or inside.startswith(path.rstrip("/") + "/")


def pids(path: Optional[str]) -> List[int]:
    """Every process in ``path`` and the cgroups the job may have made below it."""
    found: List[int] = []
    if not path:
        return found
    for directory, _subdirs, _files in os.walk(path):
        try:
            with open(os.path.join(directory, "cgroup.procs")) as fh:
                found.extend(int(x) for x in fh.read().split())
        except (OSError, ValueError):
            continue
    return found


def kill(path: Optional[str]) -> bool:
    """SIGKILL everything in the cgroup at once (``cgroup.kill``, Linux 5.14+), so nothing
    forks away between the listing and the signal; False where the kernel lacks it."""
    if not path:
        return False
    try:
        with open(os.path.join(path, "cgroup.kill"), "w") as fh:
            fh.write("1")
        return True
    except OSError:
        return False


def remove(path: Optional[str]) -> None:
    """Remove an empty run cgroup (children first); a busy one is left for a later try."""
    if not path or not os.path.basename(path).startswith(PREFIX):
        return
    for directory, _subdirs, _files in os.walk(path, topdown=False):
        try:
            os.rmdir(directory)
        except OSError:
            pass


def leave_runs() -> None:
    """Move this process out of a run's cgroup (a daemon started from inside a run)."""
    own, mount = cgroup_of(), mount_point()
    if own is None or mount is None or _outside_runs(own) == own:
        return
    join(os.path.join(mount, _outside_runs(own).lstrip("/")))
