"""Our route against OpenSSH's own answer: ``ssh -G`` for every hop, field by field.

Used by ``rdt-tui hosts --verify`` and by the parity tests. Each hop is asked for exactly as
ssh itself would ask for it when it builds the route (``ssh -G -l USER -p PORT -J EXTRA
HOST`` for a hop of a ProxyJump), so a difference names the hop, the field and both values.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from .sshconfig import DEFAULT_IDENTITIES, SshConfig
from .sshroute import Jump, Step

SSH_G_TIMEOUT_S = 30.0
FIELDS = (
    "hostname",
    "port",
    "user",
    "identityfile",
    "proxyjump",
    "proxycommand",
    "userknownhostsfile",
)


@dataclass
class SshG:
    """``ssh -G``'s answer: the fields we compare, or why there is none."""

    fields: dict[str, list[str]]
    error: str = ""


def ssh_available() -> bool:
    return shutil.which("ssh") is not None


def ssh_g_argv(cfg: SshConfig, asked: Jump) -> list[str]:
    argv = ["ssh", "-G"]
    if cfg.explicit:
        argv += ["-F", cfg.user_file]
    if asked.user:
        argv += ["-l", asked.user]
    if asked.port > 0:
        argv += ["-p", str(asked.port)]
    if asked.extra:
        argv += ["-J", asked.extra]
    for identity in asked.identities:
        argv += ["-i", identity]
    return [*argv, "--", asked.host]


def run_ssh_g(argv: list[str], env: dict[str, str] | None = None) -> SshG:
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            stdin=subprocess.DEVNULL,
            timeout=SSH_G_TIMEOUT_S,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SshG({}, f"{' '.join(argv)}: {exc}")
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if "Pseudo-terminal" not in ln]
        return SshG({}, " / ".join(lines) or f"exit status {done.returncode}")
    fields: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key in FIELDS:
            fields.setdefault(key, []).append(value)
    return SshG(fields)


def ours(step: Step) -> dict[str, list[str]]:
    """Our resolution of one step in ``ssh -G``'s terms."""
    r = step.resolved
    given = list(step.asked.identities) if step.asked else []
    if r.identity_explicit:
        files = given + [f for f in r.identity_files if f not in given]
    else:
        files = given or list(DEFAULT_IDENTITIES)
    out = {
        "hostname": [r.hostname],
        "port": [str(r.port)],
        "user": [r.user],
        "identityfile": files,
    }
    if r.proxy_jump is not None:
        out["proxyjump"] = [r.proxy_jump]
    if r.proxy_command is not None:
        out["proxycommand"] = [r.proxy_command]
    if r.known_hosts:
        out["userknownhostsfile"] = [" ".join(r.known_hosts)]
    elif r.known_hosts_explicit:
        out["userknownhostsfile"] = ["none"]  # ssh -G shows it so
    return out


def differences(ours_fields: dict[str, list[str]], theirs: dict[str, list[str]]) -> list[str]:
    out = []
    for key in FIELDS:
        a, b = ours_fields.get(key, []), theirs.get(key, [])
        if a != b:
            out.append(f"{key}: ours {' '.join(a) or '(none)'}, ssh {' '.join(b) or '(none)'}")
    return out


def verify_steps(cfg: SshConfig, steps: list[Step]) -> list[str]:
    """Differences between our steps and ``ssh -G`` asked the same, one line each."""
    out = []
    for i, step in enumerate(steps, 1):
        if step.asked is None:
            continue
        theirs = run_ssh_g(ssh_g_argv(cfg, step.asked))
        if theirs.error:
            out.append(f"hop {i} ({step.label}): ssh -G failed: {theirs.error}")
            continue
        for diff in differences(ours(step), theirs.fields):
            out.append(f"hop {i} ({step.label}): {diff}")
    return out
