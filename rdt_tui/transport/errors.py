"""Errors the SSH transport can meet, each with a title, a message and a hint for the user."""

from __future__ import annotations

from .base import TransportError


class AuthRefused(TransportError):
    title = "Authentication refused"


class HostKeyUnknown(TransportError):
    title = "Unknown host key"

    def __init__(self, message: str, hint: str, hop: str, fingerprint: str | None) -> None:
        super().__init__(message, hint)
        self.hop = hop
        self.fingerprint = fingerprint


class HostKeyChanged(TransportError):
    title = "Host key changed"


class HostUnreachable(TransportError):
    title = "Host unreachable"


class JumpUnreachable(TransportError):
    title = "Jump host unreachable"


class ConnectTimeout(TransportError):
    title = "Timed out"


class RemotePythonMissing(TransportError):
    title = "No Python on the node"


class RemotePythonTooOld(TransportError):
    title = "Python on the node is too old"


class HostConfigError(TransportError):
    title = "Bad host configuration"
