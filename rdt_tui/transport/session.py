"""What one console (or one CLI command) shares across its SSH transports: the prompter, one
authenticated connection per hop of a route, and the keys once loaded.

Every screen and worker of a console session that needs a host goes through the same
:class:`SshSession`, so a password or one-time code is asked once per connection, not once per
pane: a route's hops are keyed by who connects where (address, user, keys, known_hosts), a
second caller waits for the first one's connect and takes its connection, and a caller that
waited on an attempt that failed gets that failure instead of a second prompt. Channels are
opened per use on the shared connection.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncssh

from .auth import NoPrompt, Prompter
from .hop import Hop

PROMPT_TIMEOUT_S = 300.0  # a question nobody answers is a cancel after this long
PASSPHRASE_TRIES = 3  # OpenSSH's NumberOfPasswordPrompts
# OpenSSH's identities when no IdentityFile is given, in its order.
DEFAULT_IDENTITIES = (
    "~/.ssh/id_rsa",
    "~/.ssh/id_ecdsa",
    "~/.ssh/id_ecdsa_sk",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_ed25519_sk",
    "~/.ssh/id_dsa",
)

T = TypeVar("T")
RouteKey = tuple[tuple[Any, ...], ...]


def route_key(hops: Sequence[Hop], known_hosts: str) -> RouteKey:
    """Who connects where, hop by hop: two routes with the same prefix share its connections."""
    return tuple(
        (
            h.hostname,
            h.port,
            h.user,
            tuple(h.identity_files),
            tuple(certificate_files(h)),
            os.path.expanduser(h.known_hosts or known_hosts),
            getattr(h, "proxy_command", None),
        )
        for h in hops
    )


def certificate_files(hop: Hop) -> list[str]:
    return list(getattr(hop, "certificate_files", None) or [])


@dataclass
class _Entry:
    conn: asyncssh.SSHClientConnection | None = None
    refs: int = 0
    finished: int = 0  # connect attempts that have ended
    error: BaseException | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    expiry: asyncio.TimerHandle | None = None

    def alive(self) -> bool:
        return self.conn is not None and not self.conn.is_closed()


@dataclass
class KeySet:
    """A hop's keys: loaded ones (an encrypted key with its .pub beside it decrypts when the
    server accepts it), ones whose passphrase is asked first, and ones that cannot be used."""

    keys: list[asyncssh.SSHKeyPair] = field(default_factory=list)
    ask_first: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


class SshSession:
    """Prompts, connections and keys shared by every transport of one session.

    ``linger_s`` keeps a connection nobody holds open that long, so a reconnect or the next
    screen takes it without asking again; :meth:`close` ends them all.
    """

    def __init__(self, prompter: Prompter | None = None, linger_s: float = 0.0) -> None:
        self.prompter = prompter
        self.linger_s = linger_s
        self._entries: dict[RouteKey, _Entry] = {}
        self._keys: dict[tuple[str, tuple[str, ...]], KeySet] = {}
        self._passphrases: dict[str, str] = {}  # memory only, for this session
        self.unusable: dict[str, str] = {}  # encrypted keys not decrypted, and why
        self._passphrase_locks: dict[str, asyncio.Lock] = {}
        self._ask_lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._paused = 0.0  # seconds spent waiting for a person, so far
        self._open_since: float | None = None

    # ----- prompts --------------------------------------------------------------------
    def clock(self) -> float:
        """Monotonic seconds that stand still while a question waits for a person: a connect
        timeout counts the network, not the typing."""
        now = time.monotonic()
        waiting = now - self._open_since if self._open_since is not None else 0.0
        return now - self._paused - waiting

    async def ask(self, prompt: str, echo: bool) -> tuple[str | None, str]:
        """The answer (None when not given) and, when not given, why: one question at a
        time, bounded by :data:`PROMPT_TIMEOUT_S`."""
        if self.prompter is None:
            return None, "nothing here can ask for it"
        if self._ask_lock is None:
            self._ask_lock = asyncio.Lock()
        async with self._ask_lock:
            self._open_since = time.monotonic()
            try:
                answer = await asyncio.wait_for(self.prompter.ask(prompt, echo), PROMPT_TIMEOUT_S)
            except NoPrompt as exc:
                return None, str(exc)
            except asyncio.TimeoutError:
                return None, f"nobody answered within {PROMPT_TIMEOUT_S:.0f}s"
            finally:
                self._paused += time.monotonic() - self._open_since
                self._open_since = None
        return answer, "" if answer is not None else "the question was cancelled"

    async def bounded(self, coro: Awaitable[T], timeout: float) -> T:
        """Await ``coro`` for at most ``timeout`` seconds of :meth:`clock` (asyncio.TimeoutError
        after that; the work is cancelled)."""
        task = asyncio.ensure_future(coro)
        start = self.clock()
        try:
            while True:
                left = timeout - (self.clock() - start)
                if left <= 0 and self._open_since is None:
                    raise asyncio.TimeoutError
                done, _ = await asyncio.wait({task}, timeout=max(left, 0.5))
                if done:
                    return task.result()
        finally:
            if not task.done():
                task.cancel()

    # ----- keys -----------------------------------------------------------------------
    async def keys_for(self, hop: Hop) -> KeySet:
        """The hop's identities (IdentityFile, else OpenSSH's defaults) with their
        certificates (CertificateFile, and ``<key>-cert.pub`` beside a key)."""
        paths = [os.path.expanduser(p) for p in hop.identity_files] or [
            os.path.expanduser(p) for p in DEFAULT_IDENTITIES
        ]
        certs = tuple(
            p for p in (os.path.expanduser(c) for c in certificate_files(hop)) if os.path.exists(p)
        )
        self._loop = asyncio.get_running_loop()
        result = KeySet()
        for path in paths:
            if not os.path.exists(path):
                continue
            cached = self._keys.get((path, certs))
            if cached is None:
                cached = await asyncio.to_thread(self._load, path, certs)
                self._keys[(path, certs)] = cached
            result.paths.append(path)
            result.keys += cached.keys
            result.ask_first += cached.ask_first
            result.skipped += cached.skipped
        return result

    def _load(self, path: str, certs: tuple[str, ...]) -> KeySet:
        # Runs in a thread: asyncssh resolves the passphrase coroutine on ``loop`` from the
        # thread that signs, only once the server has accepted the key's public half.
        loop = self._loop
        try:
            with open(path, "rb") as fh:
                data = fh.read()
            encrypted = _is_encrypted(data)
            if encrypted and not (
                os.path.exists(path + ".pub") or os.path.exists(path + "-cert.pub")
            ):
                # Without its public half the key cannot be offered before it is decrypted.
                return KeySet(ask_first=[path])
            # asyncssh takes a callable passphrase too (its annotation says str only).
            phrase: Any = self._passphrase_for
            keys = asyncssh.load_keypairs(path, passphrase=phrase, certlist=list(certs), loop=loop)
        except (OSError, ValueError) as exc:
            return KeySet(skipped=[f"{path} ({exc})"])
        return KeySet(keys=list(keys))

    def _passphrase_for(self, filename: str) -> Awaitable[str | None]:
        return self.passphrase(filename)

    async def passphrase(self, path: str) -> str | None:
        """The passphrase of an encrypted key, asked at most :data:`PASSPHRASE_TRIES` times
        and checked before it is handed on; once right, not asked again in this session."""
        lock = self._passphrase_locks.setdefault(path, asyncio.Lock())
        async with lock:
            if path in self._passphrases:
                return self._passphrases[path]
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                self.unusable[path] = f"unreadable: {exc.strerror}"
                return None
            prompt = f"Enter passphrase for key '{path}': "
            for _ in range(PASSPHRASE_TRIES):
                answer, why = await self.ask(prompt, False)
                if answer is None:
                    self.unusable[path] = f"passphrase not given: {why}"
                    return None
                wrong = await asyncio.to_thread(_wrong_passphrase, data, answer)
                if wrong is None:
                    self._passphrases[path] = answer
                    self.unusable.pop(path, None)
                    return answer
                if wrong != "incorrect":  # asking again would not help
                    self.unusable[path] = wrong
                    return None
                prompt = f"Bad passphrase, try again for '{path}': "
            self.unusable[path] = f"wrong passphrase, {PASSPHRASE_TRIES} tries"
            return None

    async def load_with_passphrase(self, path: str, hop: Hop) -> list[asyncssh.SSHKeyPair]:
        """An encrypted key without its .pub: asked for, then loaded (None asked: no keys)."""
        phrase = await self.passphrase(path)
        if phrase is None:
            return []
        certs = [os.path.expanduser(c) for c in certificate_files(hop)]
        certs = [c for c in certs if os.path.exists(c)]
        try:
            return list(await asyncio.to_thread(asyncssh.load_keypairs, path, phrase, certs))
        except (OSError, ValueError):
            return []

    # ----- connections ----------------------------------------------------------------
    def entry(self, key: RouteKey) -> _Entry:
        return self._entries.setdefault(key, _Entry())

    def hold(self, key: RouteKey) -> None:
        entry = self.entry(key)
        entry.refs += 1
        if entry.expiry is not None:
            entry.expiry.cancel()
            entry.expiry = None

    def release(self, key: RouteKey) -> None:
        entry = self._entries.get(key)
        if entry is None:
            return
        entry.refs -= 1
        if entry.refs > 0:
            return
        if self.linger_s > 0 and entry.alive():
            entry.expiry = asyncio.get_running_loop().call_later(self.linger_s, self._expire, key)
        else:
            self._expire(key)

    def _expire(self, key: RouteKey) -> None:
        entry = self._entries.get(key)
        if entry is None or entry.refs > 0:
            return
        del self._entries[key]
        if entry.conn is not None:
            entry.conn.close()

    async def shared(
        self,
        key: RouteKey,
        connect: Callable[[], Awaitable[asyncssh.SSHClientConnection]],
    ) -> asyncssh.SSHClientConnection:
        """The live connection for ``key`` (held by the caller), made by ``connect`` if none.

        Callers that queued behind an attempt that failed get its error, not a second try:
        one refused password is one prompt, however many panes wanted the host."""
        entry = self.entry(key)
        seen = entry.finished  # an attempt under way now ends after this: it counts
        async with entry.lock:
            if entry.alive():
                assert entry.conn is not None
                return entry.conn
            if entry.finished != seen and entry.error is not None:
                raise entry.error
            try:
                entry.conn = await connect()
            except Exception as exc:
                entry.error = exc
                raise
            except BaseException:  # cancelled: no answer for the ones behind it
                entry.error = None
                raise
            finally:
                entry.finished += 1
            entry.error = None
            return entry.conn

    def close(self) -> None:
        """Close every connection of the session (the runs on the nodes go on)."""
        entries, self._entries = self._entries, {}
        for entry in reversed(list(entries.values())):
            if entry.expiry is not None:
                entry.expiry.cancel()
            if entry.conn is not None:
                entry.conn.close()
        self._passphrases.clear()
        self._keys.clear()  # decrypted keys too: a closed session holds no secret


def _is_encrypted(data: bytes) -> bool:
    try:
        asyncssh.import_private_key(data)
    except asyncssh.KeyImportError as exc:
        return str(exc).startswith("Passphrase")
    return False


def _wrong_passphrase(data: bytes, passphrase: str) -> str | None:
    """None when ``passphrase`` decrypts the key; ``incorrect``, or why it cannot be tried."""
    try:
        asyncssh.import_private_key(data, passphrase)
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
        text = str(exc)
        return "incorrect" if "ncorrect passphrase" in text else text
    return None
