"""The parity harness: our route for a host against OpenSSH's own, built from ``ssh -G`` alone.

``ssh_route`` rebuilds the route the way ssh does at connect time, from nothing but what
``ssh -G`` prints: when a hop has ``proxyjump a,b,u@c:p`` ssh runs ``ssh -l u -p p -J a,b c``,
so the next hop is asked for exactly so. Our steps are compared with that, hop by hop, so a
wrong hop rule (not only a wrong option value) shows as a difference.

Run as a script (``python -m tests.sshparity SPEC.json``) it does every comparison of a spec
and prints the records as JSON: the test runs it inside a private mount namespace whose
/etc/hosts knows the corpus's names (see test_sshconfig_parity.py).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rdt_tui.config.sshconfig import SshConfig
from rdt_tui.config.sshlex import SshConfigError
from rdt_tui.config.sshroute import Jump, route
from rdt_tui.config.sshverify import differences as field_differences
from rdt_tui.config.sshverify import ours, run_ssh_g, ssh_g_argv


def split_spec(spec: str) -> tuple[str | None, str, int]:
    user, _, rest = spec.rpartition("@")
    host, _, port = rest.partition(":") if not rest.startswith("[") else (rest, "", "")
    return (user or None), host, int(port) if port else -1


def _jump_of(proxyjump: str) -> Jump:
    extra, _, last = proxyjump.rpartition(",")
    user, _, hostport = last.rpartition("@")
    if hostport.startswith("["):
        host, _, port = hostport[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = hostport.partition(":")
    return Jump(host, user or None, int(port) if port else -1, extra or None)


def ssh_route(cfg: SshConfig, asked: Jump, depth: int = 0) -> list[dict[str, Any]]:
    """OpenSSH's route, hop by hop (only ProxyJump is followed: a ProxyCommand is a command
    to ssh, and what ours makes of one is checked on its own)."""
    got = run_ssh_g(ssh_g_argv(cfg, asked))
    asked_as = [asked.host, asked.user, asked.port, asked.extra]
    hop = {"asked": asked_as, "fields": got.fields, "error": got.error}
    if got.error or depth > 16:
        return [hop]
    jump = got.fields.get("proxyjump")
    if not jump:
        return [hop]
    return [*ssh_route(cfg, _jump_of(jump[0]), depth + 1), hop]


def compare(path: str, spec: str) -> dict[str, Any]:
    user, host, port = split_spec(spec)
    record: dict[str, Any] = {"file": path, "host": spec}
    cfg = SshConfig(path, None, explicit=True)
    record["theirs"] = ssh_route(cfg, Jump(host, user, port))
    try:
        steps = route(cfg, host, user, port)
    except SshConfigError as exc:
        record["ours_error"] = str(exc)
        return record
    record["ours"] = [
        {
            "asked": [s.asked.host, s.asked.user, s.asked.port, s.asked.extra] if s.asked else None,
            "fields": ours(s),
            "via": s.via,
            "proxy_command": s.proxy_command,
        }
        for s in steps
    ]
    return record


def differences(record: dict[str, Any]) -> list[str]:
    """What differs between the two routes of a record; empty when they agree."""
    theirs = record["theirs"]
    if any(h["error"] for h in theirs):
        failed = next(h for h in theirs if h["error"])
        if "ours_error" in record:
            return []
        return [f"ssh refuses ({failed['error']}) but we resolve it"]
    if "ours_error" in record:
        return [f"we refuse it ({record['ours_error']}) but ssh resolves it"]
    out = []
    mine = record["ours"]
    # A ProxyCommand we turned into a jump adds hops ssh -G cannot show: compare the tail.
    if len(mine) != len(theirs) and not any(s["via"] == "ProxyCommand" for s in mine):
        out.append(f"{len(mine)} hops, ssh has {len(theirs)}")
    for ours_hop, their_hop in zip(reversed(mine), reversed(theirs), strict=False):
        if ours_hop["asked"] != their_hop["asked"]:
            out.append(f"asked {ours_hop['asked']}, ssh asks {their_hop['asked']}")
        for diff in field_differences(ours_hop["fields"], their_hop["fields"]):
            out.append(f"{their_hop['asked'][0]} {diff}")
    return out


def main() -> None:
    with open(sys.argv[1]) as fh:
        spec = json.load(fh)
    records = [compare(path, host) for path, hosts in spec for host in hosts]
    json.dump(records, sys.stdout)


if __name__ == "__main__":
    main()
