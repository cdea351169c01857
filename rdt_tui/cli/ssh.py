"""Host subcommands of ``rdt-tui``: ``hosts``, ``check-host`` and ``trust``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from ..client import AgentClient
from ..core.units import human_size
from .common import LOCAL_HOSTS, AddCommand, CliError, cli_session, host_book


def route_json(book: Any, name: str) -> list[dict[str, Any]]:
    """Every hop of the route to ``name``: what ``hosts --json`` and ``check-host`` show."""
    from ..config.sshconfig import DEFAULT_IDENTITIES

    out = []
    for hop, step in book.steps(name):
        files = hop.identity_files
        default = bool(step and not step.resolved.identity_explicit and not files)
        if default:
            files = [step.resolved.expand(p) for p in DEFAULT_IDENTITIES]
        out.append(
            {
                "label": hop.label,
                "hostname": hop.hostname,
                "port": hop.port,
                "user": hop.user,
                "identity_files": files,
                "identity_files_default": default,
                "proxy_command": hop.proxy_command,
                "reached_by": step.via if step and step.via else None,
                "from": "ssh config" if step else "hosts file",
            }
        )
    return out


def route_lines(route: list[dict[str, Any]]) -> list[str]:
    """The route as a person reads it, one hop a line, first hop first."""
    lines = []
    for i, hop in enumerate(route, 1):
        extra = ""
        if not hop["identity_files_default"] and hop["identity_files"]:
            extra += f"  key {', '.join(hop['identity_files'])}"
        if hop["proxy_command"]:
            extra += f"  through ProxyCommand: {hop['proxy_command']}"
        if hop["from"] != "ssh config":
            extra += f"  ({hop['from']})"
        lines.append(f"{i}. {hop['label']}  {hop['user']}@{hop['hostname']}:{hop['port']}{extra}")
    return lines


def cmd_hosts(a: argparse.Namespace) -> int:
    from ..config.hosts import HostsError

    book = host_book()
    if a.verify:
        return verify_hosts(book)
    if a.json:
        entries = []
        for e in book.entries.values():
            doc = e.to_json()
            try:
                doc["route"] = route_json(book, e.name)
            except HostsError as exc:
                doc["route"], doc["route_error"] = [], str(exc)
            entries.append(doc)
        print(json.dumps(entries, indent=2))
        return 0
    entries = [e.to_json() for e in book.entries.values()]
    print(f"{'HOST':20} {'ADDRESS':34} {'JUMP':24} SOURCE")
    print(f"{'localhost':20} {'this machine (no SSH)':34} {'-':24} built in")
    for e in entries:
        address = f"{e['user'] + '@' if e['user'] else ''}{e['hostname']}:{e['port']}"
        if e["name"] in book.errors:
            address = "(cannot be resolved)"
        print(f"{e['name']:20} {address:34} {' -> '.join(e['jump']) or '-':24} {e['source']}")
    for name, why in book.errors.items():
        print(f"{name}: {why}", file=sys.stderr)
    return 0


def verify_hosts(book: Any) -> int:
    """``hosts --verify``: each ssh-config host's route against ``ssh -G``, hop by hop."""
    from ..config.hosts import HostsError
    from ..config.sshroute import Jump
    from ..config.sshverify import run_ssh_g, ssh_available, ssh_g_argv, verify_steps

    if not ssh_available():
        raise CliError("--verify needs OpenSSH's `ssh` on PATH", "install openssh-client")
    bad = 0
    if not book.entries:  # say so: a silent exit 0 reads as "all checked"
        print("no hosts to verify: none in ~/.ssh/config, /etc/ssh/ssh_config or a hosts file")
    for name in book.entries:
        if name in book.file_entries:
            print(f"{name}: skipped (a hosts file entry; ssh does not know it as such)")
            continue
        try:
            steps = [step for _, step in book.steps(name) if step is not None]
        except HostsError as exc:
            theirs = run_ssh_g(ssh_g_argv(book.ssh, Jump(name)))
            if theirs.error:
                print(f"{name}: refused by ssh -G too ({theirs.error})")
            else:
                print(f"{name}: DIFFERENT: ssh -G resolves it, we refuse it: {exc}")
                bad += 1
            continue
        diffs = verify_steps(book.ssh, steps)
        if diffs:
            bad += 1
            print(f"{name}: DIFFERENT from ssh -G")
            for line in diffs:
                print(f"  {line}")
        else:
            print(f"{name}: same as ssh -G ({len(steps)} hop{'s' if len(steps) > 1 else ''})")
    if bad:
        print(f"{bad} host(s) resolve differently from OpenSSH", file=sys.stderr)
    return 1 if bad else 0


def cmd_add_host(a: argparse.Namespace) -> int:
    """What the hosts screen's add/edit form does, headless."""
    from ..config.hosts import HostsError
    from ..config.hostsave import save_host, user_hosts_file

    fields = {
        "name": a.name,
        "hostname": a.hostname,
        "user": a.user,
        "port": a.port,
        "jump": a.jump,
        "python": a.python,
        "state_dir": a.state_dir,
        "identity_file": a.identity_file,
    }
    path = user_hosts_file()
    try:
        save_host(path, fields, a.name if a.replace else None)
    except HostsError as exc:
        # Only a name already there wants --replace; a bad port or name wants its own fix.
        if "is already there" in str(exc):
            hint = f"--replace edits the existing entry {a.name!r}"
        else:
            hint = "e.g. rdt-tui add-host gpu-a --hostname node.example.org --user me --port 22"
        raise CliError(str(exc), hint) from None
    print(f"saved {a.name} in {path}")
    return 0


async def cmd_check_host(c: AgentClient, a: argparse.Namespace) -> int:
    info = c.info
    gpus = (await c.gpus())["samples"][-1]
    runs = [r for r in await c.runs() if r["status"] == "running"]
    report = {
        "host": a.host,
        "agent": {"protocol": info["protocol"], "build": info["build"]},
        "hostname": info["hostname"],
        "python": info["python"],
        "python_executable": info["python_executable"],
        "state_dir": info["state_dir"],
        "gpus": gpus["gpus"],
        "gpu_backend": gpus["backend"],
        "simulated": gpus["simulated"],
        "gpu_reason": gpus["reason"],
        "active_runs": [r["id"] for r in runs],
    }
    route = _route_of(a.host)
    if route is not None:
        report["route"] = route
    if a.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{a.host}: reachable ({info['hostname']})")
    if route:
        lines = route_lines(route)
        print(f"  route   {lines[0]}")
        for line in lines[1:]:
            print(f"          {line}")
    print(f"  agent   protocol {info['protocol']}, build {info['build']}")
    print(f"  python  {info['python']} ({info['python_executable']})")
    label = " [SIMULATED]" if gpus["simulated"] else ""
    if gpus["gpus"]:
        names = sorted({str(g["name"]) for g in gpus["gpus"]})
        print(f"  gpus    {len(gpus['gpus'])} x {', '.join(names)}{label}")
    else:
        print(f"  gpus    none: {gpus['reason']}")
    print(f"  runs    {len(runs)} active{': ' + ', '.join(r['id'] for r in runs) if runs else ''}")
    return 0


# Like `launch --cwd`: the node's home over SSH, the current directory on this machine.
REMOTE_HELP = (
    "path on the host, relative to its home (~/ is the home too; on localhost a relative"
    " path is the current directory's)"
)


def _route_of(host: str) -> list[dict[str, Any]] | None:
    """The route ``make_client`` took to ``host`` (None for this machine)."""
    from ..config.hosts import HostBook

    if host in LOCAL_HOSTS:
        return None
    return route_json(HostBook.load(), host)


def cmd_trust(a: argparse.Namespace) -> int:
    from ..config.hosts import Hop, HostsError
    from ..transport.trust import trust_chain

    if a.host in LOCAL_HOSTS:  # reached without SSH: no connection, no key to check
        raise CliError(
            f"{a.host} is this machine, reached without SSH: it has no host key to trust",
            "trust a host of ~/.ssh/config or the hosts file (rdt-tui hosts), or user@host",
        )
    book = host_book()
    try:
        hops = book.chain(a.host)
    except HostsError as exc:
        raise CliError(str(exc)) from None

    def confirm(hop: Hop, fingerprint: str) -> bool:
        print(f"{hop.label} ({hop.address()}) presents host key {fingerprint}")
        if a.yes:
            return True
        sys.stdout.write("Trust it and add it to known_hosts? [y/N] ")
        sys.stdout.flush()
        answer = sys.stdin.readline().strip().lower()
        return answer in ("y", "yes")

    results = asyncio.run(trust_chain(hops, confirm, session=cli_session()))
    for hop, fingerprint, outcome in results:
        words = {
            "known": "already trusted",
            "added": "added to known_hosts",
            "declined": "NOT trusted",
        }[outcome]
        print(f"{hop.label}: {fingerprint} {words}")
    return 0 if all(o != "declined" for _, _, o in results) else 1


def add_parsers(sub: Any, add: AddCommand) -> None:
    sp = sub.add_parser(
        "hosts",
        help="list the hosts rdt-tui knows and where each came from",
        description="Hosts from ~/.ssh/config then /etc/ssh/ssh_config, resolved as OpenSSH "
        "resolves them (RDT_TUI_SSH_CONFIG names one file read alone, like ssh -F), "
        "configs/hosts.toml and the user config dir's hosts.toml.",
    )
    sp.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document, with every hop of each host's route",
    )
    sp.add_argument(
        "--verify",
        action="store_true",
        help="compare each route, hop by hop, with `ssh -G`; exit 1 on any difference",
    )
    sp.set_defaults(sync_fn=cmd_hosts)
    sp = sub.add_parser(
        "add-host",
        help="add a host to the user's hosts.toml (or --replace its entry)",
        description="The console's add/edit host form, headless.",
    )
    sp.add_argument("name", metavar="NAME")
    sp.add_argument("--hostname", help="address (default NAME)")
    sp.add_argument("--user")
    sp.add_argument("--port", type=int)
    sp.add_argument("--jump", help="jump hosts, comma-separated, first hop first")
    sp.add_argument("--python", help="the node's interpreter for the agent (default python3)")
    sp.add_argument("--state-dir", help="the agent's state dir on the node")
    sp.add_argument("--identity-file")
    sp.add_argument("--replace", action="store_true", help="replace the entry named NAME")
    sp.set_defaults(sync_fn=cmd_add_host)
    sp = sub.add_parser(
        "trust",
        help="show each hop's host key and add it after you confirm",
        description="Show each hop's host key fingerprint (SHA256) and add the keys to "
        "known_hosts once you confirm.",
    )
    sp.add_argument("host", metavar="HOST")
    sp.add_argument(
        "--yes",
        action="store_true",
        help="trust without asking (only after checking the fingerprints elsewhere)",
    )
    sp.set_defaults(sync_fn=cmd_trust)
    add(
        "check-host",
        cmd_check_host,
        "connect through the jump chain, deploy the agent, report the route taken and the host",
        run=False,
    )
    add_transfer_parsers(add)


class ProgressBar:
    """A one-line transfer progress on stderr: percent, bytes, rate, ETA (10 redraws/s)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet or not sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, p: Any) -> None:
        import time

        now = time.monotonic()
        if self.quiet or now - self._last < 0.1:
            return
        self._last = now
        pct = 100.0 * p.done / p.total if p.total else 100.0
        eta = f"{p.eta:.0f}s" if p.eta is not None else "-"
        sys.stderr.write(
            f"\r{pct:5.1f}%  {human_size(p.done)} / {human_size(p.total)}  "
            f"{human_size(p.rate)}/s  ETA {eta}   "
        )
        sys.stderr.flush()

    def done(self) -> None:
        if not self.quiet:
            sys.stderr.write("\n")


async def _transfer(c: AgentClient, a: argparse.Namespace, push: bool) -> int:
    import time

    bar = ProgressBar(a.json)
    t0 = time.monotonic()
    if push:
        p = await c.push(a.local, a.remote, a.force, bar)
    else:
        p = await c.pull(a.remote, a.local, a.force, bar)
    bar.done()
    seconds = time.monotonic() - t0
    summary = {
        "files": p.files,
        "identical": p.skipped,
        "bytes": p.total,
        "resumed_bytes": p.resumed_bytes,
        "seconds": round(seconds, 3),
    }
    if a.json:
        print(json.dumps(summary, indent=2))
    else:
        resumed = f", resumed from {human_size(p.resumed_bytes)}" if p.resumed_bytes else ""
        print(
            f"{'pushed' if push else 'pulled'} {p.files} file(s), {human_size(p.total)} "
            f"in {seconds:.1f}s ({p.skipped} already identical{resumed}); hashes match"
        )
    return 0


async def cmd_push(c: AgentClient, a: argparse.Namespace) -> int:
    return await _transfer(c, a, True)


async def cmd_pull(c: AgentClient, a: argparse.Namespace) -> int:
    return await _transfer(c, a, False)


def add_transfer_parsers(add: AddCommand) -> None:
    sp = add(
        "push",
        cmd_push,
        "copy a file or directory to the host (resumable, hash-checked)",
        run=False,
    )
    sp.add_argument("local", metavar="LOCAL")
    sp.add_argument("remote", metavar="REMOTE", help=REMOTE_HELP)
    sp.add_argument("--force", action="store_true", help="overwrite files that differ")
    sp = add(
        "pull",
        cmd_pull,
        "copy a file or directory from the host (resumable, hash-checked)",
        run=False,
    )
    sp.add_argument("remote", metavar="REMOTE", help=REMOTE_HELP)
    sp.add_argument("local", metavar="LOCAL")
    sp.add_argument("--force", action="store_true", help="overwrite files that differ")
