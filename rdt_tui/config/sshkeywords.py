"""Every ssh_config keyword OpenSSH 9.2 (Debian's build) knows, and the checks it makes on
each value, so a file ``ssh`` refuses is refused here too, with the same line.

The options rdt-tui acts on (HostName, Port, User, IdentityFile, ProxyJump, ProxyCommand,
Match, Include, the Canonicalize* family ...) are evaluated in sshconfig.py; this module
only says whether a line is well formed. A check returns None when the line is fine and a
sentence saying what is wrong otherwise.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

from .sshlex import a2port, valid_domain

FLAG = ("true", "false", "yes", "no")
MULTI: dict[str, tuple[str, ...]] = {
    "flag": FLAG,
    "yesnoask": (*FLAG, "ask"),
    "strict": (*FLAG, "ask", "off", "accept-new"),
    "addressfamily": ("inet", "inet6", "any"),
    "controlmaster": (*FLAG, "auto", "ask", "autoask"),
    "tunnel": ("ethernet", "point-to-point", *FLAG),
    "requesttty": (*FLAG, "force", "auto"),
    "sessiontype": ("none", "subsystem", "default"),
    "canonicalize": (*FLAG, "always"),
    "pubkeyauth": (*FLAG, "unbound", "host-bound"),
    "compression": ("yes", "no"),
}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# What ``ssh -Q cipher|mac|kex|key-sig`` lists for OpenSSH 9.2 (Debian 12's build).
CIPHERS = _words(
    "3des-cbc aes128-cbc aes192-cbc aes256-cbc aes128-ctr aes192-ctr aes256-ctr "
    "aes128-gcm@openssh.com aes256-gcm@openssh.com chacha20-poly1305@openssh.com"
)
MACS = _words(
    "hmac-sha1 hmac-sha1-96 hmac-sha2-256 hmac-sha2-512 hmac-md5 hmac-md5-96 "
    "umac-64@openssh.com umac-128@openssh.com hmac-sha1-etm@openssh.com "
    "hmac-sha1-96-etm@openssh.com hmac-sha2-256-etm@openssh.com hmac-sha2-512-etm@openssh.com "
    "hmac-md5-etm@openssh.com hmac-md5-96-etm@openssh.com umac-64-etm@openssh.com "
    "umac-128-etm@openssh.com"
)
KEX = _words(
    "diffie-hellman-group1-sha1 diffie-hellman-group14-sha1 diffie-hellman-group14-sha256 "
    "diffie-hellman-group16-sha512 diffie-hellman-group18-sha512 "
    "diffie-hellman-group-exchange-sha1 diffie-hellman-group-exchange-sha256 "
    "ecdh-sha2-nistp256 ecdh-sha2-nistp384 ecdh-sha2-nistp521 curve25519-sha256 "
    "curve25519-sha256@libssh.org sntrup761x25519-sha512 sntrup761x25519-sha512@openssh.com"
)
KEYTYPES = _words(
    "ssh-ed25519 ssh-ed25519-cert-v01@openssh.com sk-ssh-ed25519@openssh.com "
    "sk-ssh-ed25519-cert-v01@openssh.com ecdsa-sha2-nistp256 "
    "ecdsa-sha2-nistp256-cert-v01@openssh.com ecdsa-sha2-nistp384 "
    "ecdsa-sha2-nistp384-cert-v01@openssh.com ecdsa-sha2-nistp521 "
    "ecdsa-sha2-nistp521-cert-v01@openssh.com sk-ecdsa-sha2-nistp256@openssh.com "
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com webauthn-sk-ecdsa-sha2-nistp256@openssh.com "
    "ssh-dss ssh-dss-cert-v01@openssh.com ssh-rsa ssh-rsa-cert-v01@openssh.com rsa-sha2-256 "
    "rsa-sha2-256-cert-v01@openssh.com rsa-sha2-512 rsa-sha2-512-cert-v01@openssh.com"
)
LOG_LEVELS = _words("quiet fatal error info verbose debug debug1 debug2 debug3 silent")
IPQOS = _words(
    "af11 af12 af13 af21 af22 af23 af31 af32 af33 af41 af42 af43 cs0 cs1 cs2 cs3 cs4 cs5 cs6 "
    "cs7 ef le lowdelay throughput reliability none"
)
FACILITIES = _words(
    "daemon user auth authpriv local0 local1 local2 local3 local4 local5 local6 local7"
)

# keyword -> kind; the kinds are checked by CHECKS below. Keywords evaluated elsewhere have
# kind "eval" (sshconfig.py checks them while it applies them).
KEYWORDS: dict[str, str] = {}
for _kind, _names in {
    "ignore": "protocol",
    "deprecated": "cipher fallbacktorsh globalknownhostsfile2 rhostsauthentication "
    "userknownhostsfile2 useroaming usersh useprivilegedport",
    "unsupported": "afstokenpassing kerberosauthentication kerberostgtpassing "
    "rsaauthentication rhostsrsaauthentication compressionlevel smartcarddevice "
    "pkcs11provider",
    "flag": "gssapiauthentication gssapidelegatecredentials gssapikeyexchange "
    "gssapirenewalforcesrekey gssapitrustdns forwardx11 forwardx11trusted "
    "exitonforwardfailure gatewayports passwordauthentication "
    "kbdinteractiveauthentication challengeresponseauthentication skeyauthentication "
    "tisauthentication hostbasedauthentication batchmode checkhostip tcpkeepalive keepalive "
    "nohostauthenticationforlocalhost clearallforwardings enablesshkeysign identitiesonly "
    "hashknownhosts permitlocalcommand visualhostkey stdinnull forkafterauthentication "
    "proxyusefdpass canonicalizefallbacklocal streamlocalbindunlink enableescapecommandline",
    "yesnoask": "verifyhostkeydns updatehostkeys",
    "strict": "stricthostkeychecking",
    "addressfamily": "addressfamily",
    "controlmaster": "controlmaster",
    "tunnel": "tunnel",
    "requesttty": "requesttty",
    "sessiontype": "sessiontype",
    "canonicalize": "canonicalizehostname",
    "pubkeyauth": "pubkeyauthentication dsaauthentication",
    "compression": "compression",
    "time": "connecttimeout forwardx11timeout serveraliveinterval",
    "int": "numberofpasswordprompts connectionattempts serveralivecountmax "
    "canonicalizemaxdots requiredrsasize",
    "string": "kbdinteractivedevices xauthlocation hostname hostkeyalias user "
    "preferredauthentications bindaddress bindinterface securitykeyprovider controlpath "
    "ignoreunknown revokedhostkeys gssapiclientidentity gssapiserveridentity "
    "gssapikexalgorithms",
    "files": "globalknownhostsfile userknownhostsfile",
    "command": "proxycommand knownhostscommand localcommand remotecommand",
    "port": "port",
    "ciphers": "ciphers",
    "macs": "macs",
    "kex": "kexalgorithms",
    "keytypes": "hostkeyalgorithms casignaturealgorithms hostbasedacceptedalgorithms "
    "hostbasedkeytypes pubkeyacceptedalgorithms pubkeyacceptedkeytypes",
    "eval": "identityfile identityfile2 certificatefile host match include proxyjump "
    "canonicaldomains canonicalizepermittedcnames",
    "other": "forwardagent rekeylimit loglevel syslogfacility logverbose localforward "
    "remoteforward dynamicforward permitremoteopen escapechar sendenv setenv controlpersist "
    "tunneldevice ipqos streamlocalbindmask fingerprinthash addkeystoagent identityagent",
}.items():
    for _name in _names.split():
        KEYWORDS[_name] = _kind


def convtime(s: str | None) -> int:
    """misc.c convtime(): seconds, or -1."""
    if not s:
        return -1
    total = 0
    for number, unit in re.findall(r"(\d+)([sSmMhHdDwW]?)", s):
        total += (
            int(number) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit.lower()]
        )
    if not re.fullmatch(r"(\d+[sSmMhHdDwW]?)+", s) or total > 2**31 - 1:
        return -1
    return total


def int_error(s: str | None) -> str | None:
    """misc.c atoi_err(): None, or why ``s`` is not a number 0..INT_MAX."""
    if not s:
        return "integer value missing."
    if not re.fullmatch(r"\s*[+-]?\d+", s):
        return "integer value invalid."
    value = int(s)
    if value < 0:
        return "integer value too small."
    if value > 2**31 - 1:
        return "integer value too large."
    return None


def _algos(known: frozenset[str], what: str, wildcards: bool) -> Callable[[list[str]], str | None]:
    def check(args: list[str]) -> str | None:
        if not args or not args[0]:
            return "missing argument."
        spec = args[0]
        if spec.startswith("-"):
            return _extra(args, 1)
        names = spec[1:] if spec[:1] in "+^" else spec
        for name in names.split(","):
            if name in known:
                continue
            if (
                wildcards
                and any(c in name for c in "*?")
                and any(fnmatch.fnmatchcase(k, name) for k in known)
            ):
                continue
            return f"bad {what} '{spec}'."
        return _extra(args, 1)

    return check


def _extra(args: list[str], used: int) -> str | None:
    return "extra arguments at end of line" if len(args) > used else None


def _one(check: Callable[[str | None], str | None]) -> Callable[[list[str]], str | None]:
    def wrapped(args: list[str]) -> str | None:
        return check(args[0] if args else None) or _extra(args, 1)

    return wrapped


def _multi(values: tuple[str, ...]) -> Callable[[str | None], str | None]:
    def check(arg: str | None) -> str | None:
        if arg is None or arg.lower() not in values:
            return f'unsupported option "{arg}"; one of: {", ".join(values)}'
        return None

    return check


def _string(arg: str | None) -> str | None:
    return "missing argument." if not arg else None


def _time(arg: str | None) -> str | None:
    if not arg:
        return "missing time value."
    return None if arg == "none" or convtime(arg) >= 0 else "invalid time value."


def _port(arg: str | None) -> str | None:
    if not arg:
        return "missing argument."
    return None if a2port(arg) > 0 else f"Bad port '{arg}'."


def _files(args: list[str]) -> str | None:
    for i, arg in enumerate(args):
        if not arg:
            return "empty argument"
        if arg.lower() == "none" and (i > 0 or len(args) > 1):
            return '"none" argument must appear alone.'
    return None


def _forward(args: list[str], keyword: str) -> str | None:
    if not args or not args[0]:
        return "missing argument."
    if keyword == "localforward" and (len(args) < 2 or not args[1]):
        return "Missing target argument."
    used = 1 if keyword == "dynamicforward" or len(args) < 2 else 2
    return _extra(args, used)


def _other(keyword: str, args: list[str]) -> str | None:
    """The options with a check of their own; each mirrors its case in readconf.c."""
    arg = args[0] if args else None
    if keyword in ("localforward", "remoteforward", "dynamicforward"):
        return _forward(args, keyword)
    if keyword in ("sendenv", "setenv"):
        if keyword == "sendenv" and any(not a or "=" in a for a in args):
            return "Invalid environment name."
        if keyword == "setenv" and any("=" not in a for a in args):
            return "Invalid SetEnv."
        return None
    if keyword in ("logverbose", "permitremoteopen"):
        return None if args or keyword == "logverbose" else "missing specification"
    if keyword == "loglevel":
        ok = arg is not None and arg.lower() in LOG_LEVELS
        return (None if ok else f"unsupported log level '{arg}'") or _extra(args, 1)
    if keyword == "syslogfacility":
        ok = arg is not None and arg.lower() in FACILITIES
        return (None if ok else f"unsupported log facility '{arg}'") or _extra(args, 1)
    if keyword == "ipqos":
        bad = [a for a in args[:2] if a.lower() not in IPQOS and not a.isdigit()]
        return f"Bad IPQoS value: {bad[0] if bad else arg}" if bad or not args else _extra(args, 2)
    if keyword == "escapechar":
        ok = arg is not None and (
            arg == "none"
            or len(arg) == 1
            or (len(arg) == 2 and arg[0] == "^" and 64 <= ord(arg[1]) < 128)
        )
        return (None if ok else "Bad escape character.") or _extra(args, 1)
    if keyword == "controlpersist":
        ok = arg is not None and (arg in ("yes", "no", "true", "false") or convtime(arg) >= 0)
        return (None if ok else "Bad ControlPersist argument.") or _extra(args, 1)
    if keyword == "tunneldevice":
        ok = arg is not None and re.fullmatch(r"(any|\d+)(:(any|\d+))?", arg) is not None
        return (None if ok else "Bad tun device.") or _extra(args, 1)
    if keyword == "streamlocalbindmask":
        ok = arg is not None and re.fullmatch(r"[0-7]+", arg) is not None and int(arg, 8) <= 0o777
        return (None if ok else "Bad mask.") or _extra(args, 1)
    if keyword == "fingerprinthash":
        ok = arg is not None and arg.lower() in ("md5", "sha1", "sha256", "sha384", "sha512")
        return (None if ok else f'Invalid hash algorithm "{arg}".') or _extra(args, 1)
    if keyword == "rekeylimit":
        if not arg:
            return "Missing argument."
        if arg != "default" and not re.fullmatch(r"\d+[KMGkmg]?", arg):
            return f"Bad number '{arg}'"
        if len(args) > 1 and args[1] != "none" and _time(args[1]):
            return "invalid time value."
        return _extra(args, 2)
    if keyword == "addkeystoagent":
        first = (arg or "").lower()
        if first in MULTI["yesnoask"] + ("confirm",):
            if len(args) > 1 and (first != "confirm" or convtime(args[1]) < 0):
                return "unsupported option"
            return _extra(args, 2)
        return None if len(args) == 1 and convtime(arg) >= 0 else "unsupported option"
    # forwardagent, identityagent: yes/no or a socket path (maybe ${ENV})
    if not arg:
        return "missing argument."
    if arg.startswith("$") and not arg.startswith("${") and not re.fullmatch(r"\$\w+", arg):
        return f"Invalid environment name {arg}."
    return _extra(args, 1)


CHECKS: dict[str, Callable[[list[str]], str | None]] = {
    "string": _one(_string),
    "time": _one(_time),
    "int": _one(int_error),
    "port": _one(_port),
    "files": _files,
    "ciphers": _algos(CIPHERS, "SSH2 cipher spec", False),
    "macs": _algos(MACS, "SSH2 MAC spec", False),
    "kex": _algos(KEX, "SSH2 KexAlgorithms", False),
    "keytypes": _algos(KEYTYPES, "key types", True),
}
for _kind, _values in MULTI.items():
    CHECKS[_kind] = _one(_multi(_values))


def check_value(keyword: str, kind: str, args: list[str]) -> str | None:
    """None when OpenSSH accepts ``args`` for ``keyword``, else what it would say."""
    if kind in ("ignore", "deprecated", "unsupported", "command", "eval"):
        return None
    if kind == "other":
        return _other(keyword, args)
    return CHECKS[kind](args)


def valid_domains(args: list[str]) -> str | None:
    """CanonicalDomains: each a valid domain, ``none`` alone."""
    for i, arg in enumerate(args):
        if not arg:
            return "empty argument"
        if arg.lower() == "none" and (i > 0 or len(args) > 1):
            return '"none" argument must appear alone.'
        why = valid_domain(arg)
        if why:
            return why
    return None
