"""One reading of the ssh config files for one host: readconf.c read_config_file_depth()
and process_config_line_depth(), line by line, with Host, Match and Include deciding which
lines apply, and the first value of each option kept."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from typing import Protocol

from .sshlex import (
    SshConfigError,
    SshHostError,
    a2port,
    match_hostname,
    match_pattern,
    match_pattern_list,
    percent_expand,
    strdelim,
)
from .sshlines import Line, Options, cname_rules, expand_hostname, include_paths, parse_jump


class ConfigFiles(Protocol):
    """What a pass needs of the whole configuration (``sshconfig.SshConfig`` is one): each
    file read once, the local user, the ``%`` tokens. A protocol, not an import of sshconfig,
    which imports this module (no cycle, not even for the type checker)."""

    local_user: str

    def parsed(self, path: str, check_perm: bool) -> list[Line] | None: ...

    def tokens(
        self, host: str, port: str, user: str, original: str, keyalias: str
    ) -> dict[str, str]: ...


Bad = Callable[..., SshConfigError]  # makes the error for the line being read

MAX_DEPTH = 16
MATCH_EXEC_TIMEOUT_S = 30.0
CANON_NO, CANON_YES, CANON_ALWAYS = 0, 1, 2


class Pass:
    """One reading of the files for one host (readconf.c read_config_file_depth)."""

    def __init__(self, cfg: ConfigFiles, opts: Options, host: str, original: str, final: bool):
        self.cfg, self.opts, self.host, self.original, self.final = cfg, opts, host, original, final
        self.want_final = False
        self.active = True

    def read_file(
        self, path: str, user_conf: bool, check_perm: bool, depth: int = 0, never: bool = False
    ) -> None:
        if depth == 0:
            self.active = True
        lines = self.cfg.parsed(path, check_perm)
        for line in lines or []:
            self._line(line, path, user_conf, depth, never)

    def _line(self, line: Line, path: str, user_conf: bool, depth: int, never: bool) -> None:
        def bad(what: str, hint: str = "", host_only: bool = False) -> SshConfigError:
            cls = SshHostError if host_only else SshConfigError
            return cls(path, line.number, what, hint)

        if line.error is not None:
            raise bad(*line.error)
        keyword, args, o = line.keyword, line.args, self.opts
        if line.kind is None:
            ignored = o.ignore_unknown
            if ignored and match_pattern_list(keyword, ignored, True) == 1:
                return
            raise bad(
                f"Bad configuration option: {keyword}",
                "a misspelt keyword? ssh refuses the file too (see man ssh_config)",
            )
        active = self.active and not never
        if keyword == "host":
            self._host(args, never, bad)
        elif keyword == "match":
            self._match(line.rest, never, bad)
        elif keyword == "include":
            self._include(args, user_conf, depth, bad)
        elif not active:
            return
        elif keyword == "proxyjump":
            parse_jump(line.rest.lstrip(" \t\r\n="), o, True)
        elif keyword == "proxycommand":
            if o.proxy_command is None and o.jump_host is None:
                o.proxy_command = line.rest.lstrip(" \t\r\n=")
        elif keyword in ("identityfile", "identityfile2"):
            if args[0] not in o.identity_files:
                o.identity_files.append(args[0])
        elif keyword == "certificatefile":
            if args[0] not in o.certificate_files:
                o.certificate_files.append(args[0])
        elif keyword == "canonicaldomains":
            if not o.canonical_domains:
                o.canonical_domains = [a.lower().rstrip(".") for a in args]
        elif keyword == "canonicalizepermittedcnames":
            if not o.permitted_cnames:
                o.permitted_cnames = cname_rules(args)
        else:
            self._apply(keyword, args)

    def _apply(self, keyword: str, args: list[str]) -> None:
        o = self.opts
        if keyword == "hostname" and o.hostname is None:
            o.hostname = args[0]
        elif keyword == "user" and o.user is None:
            o.user = args[0]
        elif keyword == "port" and o.port == -1:
            o.port = a2port(args[0])
        elif keyword == "userknownhostsfile" and not o.known_hosts:
            o.known_hosts = list(args)
        elif keyword == "hashknownhosts" and o.hash_known_hosts == -1:
            o.hash_known_hosts = 1 if args[0].lower() in ("yes", "true") else 0
        elif keyword == "hostkeyalias" and o.host_key_alias is None:
            o.host_key_alias = args[0]
        elif keyword == "ignoreunknown" and o.ignore_unknown is None:
            o.ignore_unknown = args[0]
        elif keyword == "canonicalizehostname" and o.canonicalize == -1:
            o.canonicalize = {"always": CANON_ALWAYS}.get(
                args[0].lower(), CANON_YES if args[0].lower() in ("yes", "true") else CANON_NO
            )
        elif keyword == "canonicalizemaxdots" and o.max_dots == -1:
            o.max_dots = int(args[0])
        elif keyword == "canonicalizefallbacklocal" and o.fallback_local == -1:
            o.fallback_local = 1 if args[0].lower() in ("yes", "true") else 0

    def _host(self, args: list[str], never: bool, bad: Bad) -> None:
        self.active = False
        for arg in args:
            if not arg:
                raise bad("keyword host empty argument")
            if never:
                break
            negated = arg.startswith("!")
            if match_pattern(self.host, arg[1:] if negated else arg):
                if negated:
                    self.active = False
                    break
                self.active = True

    def _match(self, rest: str, never: bool, bad: Bad) -> None:
        """readconf.c match_cfg_line(); words are read with strdelim, as ssh does."""
        o, cfg = self.opts, self.cfg
        if self.final:
            host = o.hostname or self.host
        elif o.hostname is not None:
            host = expand_hostname(o.hostname, self.host)
        else:
            host = self.host
        ruser = o.user or cfg.local_user
        result, attributes, saw_all = True, 0, False
        cp: str | None = rest
        while True:
            attrib, cp = strdelim(cp)
            if not attrib:
                break
            if attrib.startswith("#"):
                cp = None
                break
            negate = attrib.startswith("!")
            name = (attrib[1:] if negate else attrib).lower()
            if name == "all":
                arg, cp = strdelim(cp)
                if attributes > 1 or (arg and not arg.startswith("#")):
                    raise bad(f"'{attrib}' cannot be combined with other Match attributes")
                if arg and arg.startswith("#"):
                    cp = None
                if result:
                    result = not negate
                saw_all = True
                break
            attributes += 1
            if name in ("canonical", "final"):
                if name == "final":
                    self.want_final = True
                if self.final == negate:
                    result = False
                continue
            arg, cp = strdelim(cp)
            if not arg or arg.startswith("#"):
                raise bad(f"Missing Match criteria for {attrib}", "Match host PATTERN, ...")
            if name == "host":
                hit = match_hostname(host, arg)
            elif name == "originalhost":
                hit = match_hostname(self.original, arg)
            elif name == "user":
                hit = match_pattern_list(ruser, arg, False) == 1
            elif name == "localuser":
                hit = match_pattern_list(cfg.local_user, arg, False) == 1
            elif name == "exec":
                if not result:
                    continue
                hit = self._exec(arg, host, ruser, bad)
            else:
                raise bad(f"Unsupported Match attribute {attrib}")
            if hit == negate:
                result = False
        if attributes == 0 and not saw_all:
            raise bad("One or more attributes required for Match")
        if cp:
            raise bad("keyword match extra arguments at end of line")
        self.active = False if never else result

    def _exec(self, arg: str, host: str, ruser: str, bad: Bad) -> bool:
        o = self.opts
        port = str(22 if o.port <= 0 else o.port)
        tokens = self.cfg.tokens(host, port, ruser, self.original, o.host_key_alias or host)
        try:
            cmd = percent_expand(arg, tokens)
        except ValueError as exc:
            raise bad(f"Match exec: {exc}", host_only=True) from None
        shell = os.environ.get("SHELL") or "/bin/sh"
        try:
            done = subprocess.run(
                [shell, "-c", cmd],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                timeout=MATCH_EXEC_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise bad(
                f"Match exec {cmd!r} ran over {MATCH_EXEC_TIMEOUT_S:.0f}s", host_only=True
            ) from None
        except OSError as exc:
            raise bad(f"Match exec {cmd!r} error: {exc.strerror}", host_only=True) from None
        return done.returncode == 0

    def _include(self, args: list[str], user_conf: bool, depth: int, bad: Bad) -> None:
        if depth + 1 > MAX_DEPTH:
            raise bad("too many recursive configuration includes")
        for arg in args:
            if not arg:
                raise bad("keyword include empty argument")
            if arg.startswith("~") and not user_conf:
                raise bad(f"bad include path {arg}.", "a system file cannot use ~")
        active = self.active
        for included in include_paths(args, user_conf):
            self.read_file(included, user_conf, True, depth + 1, never=not active)
            self.active = active  # a Match in an included file ends with that file
