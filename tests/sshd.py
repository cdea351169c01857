"""Two real OpenSSH servers on loopback, a jump and a node, for the transport tests.

The node listens on 127.0.0.1 too, but the client knows it only as ``gpu-node.internal``, a
name that resolves inside the jump's mount namespace alone (``unshare -m`` with a bind-mounted
/etc/hosts): the client can reach the node only through the jump, as on a real cluster.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import pytest

# A test run of its own can take another account (parallel checkouts must not share the
# node user's home, where the agent and its daemon live).
USER = os.environ.get("RDT_TEST_SSH_USER", "rdtuser")
NODE_NAME = "gpu-node.internal"
# The node user's password where a lab's jump asks for one (``start_lab(jump_auth=...)``).
LAB_PASSWORD = "lab pass 7Qx!"
# The node's Python, for the agent (the lab's node is this machine).
NODE_PYTHON = "/usr/bin/python3"


def sshd_path() -> str | None:
    for path in ("/usr/sbin/sshd", shutil.which("sshd") or ""):
        if path and os.path.exists(path):
            return path
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", USER], check=True)
        # useradd leaves the account locked ("!"), and sshd refuses locked accounts.
        subprocess.run(["usermod", "-p", "*", USER], check=True)
        return pwd.getpwnam(USER)


def keygen(path: str, comment: str) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path], check=True
    )
    with open(path + ".pub") as fh:
        return fh.read().strip()


@dataclass
class Sshd:
    name: str
    port: int
    host_key: str
    config: str
    netns_hosts: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    log: str = ""

    def start(self) -> None:
        argv = [sshd_path() or "sshd", "-D", "-e", "-f", self.config]
        if self.netns_hosts:
            # A private mount namespace where the node's name resolves: only this sshd
            # (and the sessions it forks) can look it up.
            argv = [
                "unshare",
                "-m",
                "sh",
                "-c",
                f'mount --bind {self.netns_hosts} /etc/hosts && exec "$@"',
                "sh",
                *argv,
            ]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd {self.name} did not start; see {self.log}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def session_pids(self) -> list[int]:
        """Per-connection sshd children (the processes that carry one client's session)."""
        assert self.proc is not None
        root = self.proc.pid
        out = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True)
        children: dict[int, list[int]] = {}
        args: dict[int, str] = {}
        for line in out.stdout.splitlines()[1:]:
            pid, ppid, cmd = [*line.split(None, 2), ""][:3]
            children.setdefault(int(ppid), []).append(int(pid))
            args[int(pid)] = cmd
        found, stack = [], [root]
        while stack:
            for child in children.get(stack.pop(), []):
                if args.get(child, "").startswith("sshd"):
                    # Only sshd itself: the agent and the runs it started live on.
                    found.append(child)
                    stack.append(child)
        return found


@dataclass
class SshLab:
    root: str
    jump: Sshd
    node: Sshd
    client_key: str
    wrong_key: str
    known_hosts: str
    ssh_config: str
    user: str = USER
    home: str = ""
    keys: dict[str, str] = field(default_factory=dict)

    def write_known_hosts(self, entries: list[tuple[str, str]]) -> None:
        with open(self.known_hosts, "w") as fh:
            for name, pub in entries:
                key = " ".join(pub.split()[:2])
                fh.write(f"{name} {key}\n")

    def trust_both(self) -> None:
        self.write_known_hosts(
            [
                (f"[127.0.0.1]:{self.jump.port}", self.keys["jump"]),
                (f"[{NODE_NAME}]:{self.node.port}", self.keys["node"]),
            ]
        )

    def stop(self) -> None:
        self.jump.stop()
        self.node.stop()


SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile none
AuthorizedKeysFile {authorized}
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowTcpForwarding yes
AllowAgentForwarding no
Subsystem sftp internal-sftp
LogLevel VERBOSE
"""

CLIENT_CONFIG = """\
Host jump
  HostName 127.0.0.1
  Port {jump_port}
  User {user}
  IdentityFile {key}
  UserKnownHostsFile {known_hosts}

Host node
  HostName {node_name}
  Port {node_port}
  User {user}
  IdentityFile {key}
  UserKnownHostsFile {known_hosts}
  ProxyJump jump
"""


def set_password(password: str | None) -> None:
    """Give the lab user a password (sshd checks it with UsePAM no too), or none (``*``)."""
    if password is None:
        subprocess.run(["usermod", "-p", "*", USER], check=True)
    else:
        subprocess.run(["chpasswd"], input=f"{USER}:{password}\n".encode(), check=True)


def jump_auth_config(methods: str) -> str:
    """sshd_config lines for a jump that wants ``methods`` (``AuthenticationMethods`` syntax).

    keyboard-interactive on Linux goes through PAM (``UsePAM yes``); the PAM session modules a
    container cannot run (loginuid) are not needed for what the tests check, but PAM's
    ``account`` and ``auth`` stacks are the real ones.
    """
    lines = [
        f"AuthenticationMethods {methods}",
        "PasswordAuthentication yes",
        "KbdInteractiveAuthentication yes",
    ]
    if "keyboard-interactive" in methods:
        lines.append("UsePAM yes")
    return "\n".join(lines) + "\n"


def drop_lines(path: str, prefix: str) -> None:
    with open(path) as fh:
        kept = [line for line in fh if not line.startswith(prefix)]
    with open(path, "w") as fh:
        fh.writelines(kept)


def start_lab(node_sftp: bool = True, jump_auth: str | None = None) -> SshLab:
    """Start the jump and the node; ``node_sftp=False`` leaves the node's sshd without an SFTP
    subsystem, as on some hardened clusters; ``jump_auth`` (e.g. ``"publickey,password"``)
    makes the jump ask for more than a key, the user's password set to :data:`LAB_PASSWORD`."""
    account = ensure_user()
    if jump_auth:
        set_password(LAB_PASSWORD)
    os.makedirs("/run/sshd", exist_ok=True)
    root = tempfile.mkdtemp(prefix="rdt-ssh-", dir="/tmp")
    os.chmod(root, 0o755)
    keys = {}
    for name in ("jump", "node"):
        keys[name] = keygen(os.path.join(root, f"{name}_host_key"), f"{name}-host")
    client_pub = keygen(os.path.join(root, "client_key"), "client")
    keygen(os.path.join(root, "wrong_key"), "wrong")
    authorized = os.path.join(root, "authorized_keys")
    with open(authorized, "w") as fh:
        fh.write(client_pub + "\n")
    os.chmod(authorized, 0o644)
    hosts = os.path.join(root, "netns_hosts")
    with open(hosts, "w") as fh:
        fh.write(f"127.0.0.1 localhost\n127.0.0.1 {NODE_NAME}\n")
    servers = {}
    for name in ("jump", "node"):
        port = free_port()
        config = os.path.join(root, f"{name}_sshd_config")
        with open(config, "w") as fh:
            fh.write(
                SSHD_CONFIG.format(
                    port=port,
                    authorized=authorized,
                    host_key=os.path.join(root, f"{name}_host_key"),
                )
            )
        if name == "node" and not node_sftp:
            drop_lines(config, "Subsystem sftp")
        if jump_auth and name == "jump":
            # sshd takes the first value of a keyword: these go before the lab's defaults.
            with open(config) as fh:
                text = fh.read()
            with open(config, "w") as fh:
                fh.write(jump_auth_config(jump_auth) + text)
        servers[name] = Sshd(
            name=name,
            port=port,
            host_key=keys[name],
            config=config,
            netns_hosts=hosts if name == "jump" else None,
            log=os.path.join(root, f"{name}.log"),
        )
    known_hosts = os.path.join(root, "known_hosts")
    ssh_config = os.path.join(root, "ssh_config")
    with open(ssh_config, "w") as fh:
        fh.write(
            CLIENT_CONFIG.format(
                jump_port=servers["jump"].port,
                user=USER,
                key=os.path.join(root, "client_key"),
                known_hosts=known_hosts,
                node_name=NODE_NAME,
                node_port=servers["node"].port,
            )
        )
    lab = SshLab(
        root=root,
        jump=servers["jump"],
        node=servers["node"],
        client_key=os.path.join(root, "client_key"),
        wrong_key=os.path.join(root, "wrong_key"),
        known_hosts=known_hosts,
        ssh_config=ssh_config,
        home=account.pw_dir,
        keys=keys,
    )
    lab.trust_both()
    for server in servers.values():
        server.start()
    return lab


def remove_lab(lab: SshLab) -> None:
    """Stop both servers, end whatever the node user left running, and remove the lab."""
    lab.stop()
    subprocess.run(["pkill", "-KILL", "-u", lab.user], check=False)
    shutil.rmtree(lab.root, ignore_errors=True)


# ``pytestmark`` of a module that starts a lab and runs the agent on its node.
LAB_MARKS = [
    pytest.mark.skipif(sshd_path() is None, reason="openssh-server is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the sshd lab needs root (users, namespaces)"),
    pytest.mark.skipif(not os.path.exists(NODE_PYTHON), reason="no /usr/bin/python3 for the node"),
]
