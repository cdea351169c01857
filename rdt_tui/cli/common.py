"""What every subcommand module shares: the error it raises (:class:`CliError`), the client
factory, JSON output, and the loaders of profiles, settings and the host book, each with one
wording of its errors. Subcommand modules import this module, never the ``rdt_tui.cli``
package, so the package can import them all without a cycle."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any

from ..client import AgentClient

LOCAL_HOSTS = ("localhost", "local", "127.0.0.1")

# A session keeps a connection nobody holds this long: a reconnect, or the console's `t` then
# the check that follows, takes it without asking for the password or code again.
LINGER_S = 120.0

PROFILE_HINT = "the profile keys are in docs/profiles.md"
# What a subcommand module is given to add its subcommands: add(name, fn, help, run=True,
# json_=True) makes a parser taking HOST (and RUN, --json, --simulate-gpus) that runs fn.
AddCommand = Callable[..., argparse.ArgumentParser]

HOSTS_HINT = "fix that line, then run `rdt-tui hosts` again (`ssh -G HOST` says the same)"


class CliError(Exception):
    """An error the user can fix: ``main`` prints the message and the hint, exits 1."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def cli_session(linger_s: float = 0.0) -> Any:
    """An SSH session that asks on the terminal, or through SSH_ASKPASS as OpenSSH does.
    With ``linger_s``, close it (``.close()``) when done."""
    from ..transport.auth import OpenSshPrompter
    from ..transport.session import SshSession

    return SshSession(OpenSshPrompter(), linger_s=linger_s)


def make_client(
    host: str, simulate_gpus: int = 0, reconnect: bool = False, session: Any = None
) -> AgentClient:
    """A client for ``localhost`` (no SSH) or a host from ~/.ssh/config or a hosts file.

    ``session`` (a transport.session.SshSession) is shared by the clients of one console or
    command: one prompt per connection, one connection per hop. Default: :func:`cli_session`.
    """
    if host in LOCAL_HOSTS:
        from ..transport.local import LocalTransport

        transport: Any = LocalTransport(os.environ.get("RDT_TUI_STATE_DIR"), simulate_gpus)
    else:
        from ..config.hosts import HostsError
        from ..transport.ssh import SshTransport

        book = host_book()
        try:
            entry = book.get(host)
            hops = book.chain(host)
        except HostsError as exc:
            raise CliError(str(exc), HOSTS_HINT) from None
        transport = SshTransport(
            host,
            hops,
            python=entry.python,
            state_dir=entry.state_dir,
            simulate_gpus=simulate_gpus,
            session=session or cli_session(),
        )
    return AgentClient(transport, reconnect=reconnect)


def emit_json(doc: Any) -> None:
    """The one JSON document a ``--json`` subcommand prints on stdout."""
    print(json.dumps(doc, indent=2, sort_keys=True, default=str))


def load_profile(name: str) -> Any:
    """The run profile ``name`` (configs/runs/NAME.toml, the user's, or a path); a profile
    that is missing or wrong is a :class:`CliError`, worded the same for every subcommand."""
    from ..config.profiles import ProfileError, find_profile, profile_dirs
    from ..config.profiles import load_profile as load

    try:
        return load(find_profile(name, profile_dirs()))
    except ProfileError as exc:
        raise CliError(str(exc), PROFILE_HINT) from None


def load_settings(hint: str = "fix or remove the file") -> Any:
    """The user's settings.toml; a wrong file is a :class:`CliError` with ``hint``."""
    from ..config.settings import SettingsError
    from ..config.settings import load_settings as load

    try:
        return load()
    except SettingsError as exc:
        raise CliError(str(exc), hint) from None


def host_book() -> Any:
    """The hosts rdt-tui knows (ssh config and hosts files); a line that cannot be read is a
    :class:`CliError`, worded the same for every subcommand."""
    from ..config.hosts import HostBook, HostsError

    try:
        return HostBook.load()
    except HostsError as exc:
        raise CliError(str(exc), HOSTS_HINT) from None


def set_values(items: list[str] | None) -> dict[str, Any]:
    """``--set FIELD=VALUE`` items as launch-form values (what the form's fields accept)."""
    from ..launch.plan import FORM_DEFAULTS

    values: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or key not in FORM_DEFAULTS:
            raise CliError(
                f"--set {item!r}: not a form field",
                "fields: processes, per_gpu_batch, grad_accum, max_steps, mixed_precision",
            )
        if key == "mixed_precision":
            values[key] = value
        elif not value.isdigit() or int(value) < 1:
            raise CliError(f"--set {key}={value}: a whole number of at least 1 is expected")
        else:
            values[key] = int(value)
    return values
