"""Client authentication for one hop, as OpenSSH does it, and the words when a hop refuses.

Keys come first (the ssh-agent's, then IdentityFile's, an encrypted one decrypted only once the
server has accepted its public half), then keyboard-interactive and password, each asked
through the session's prompter at most three times (OpenSSH's NumberOfPasswordPrompts). A
server that wants several methods in a row (``AuthenticationMethods publickey,password``)
gets them in turn. What the server offered at each step is kept for the refusal message;
the answers are not kept at all.
"""

from __future__ import annotations

from typing import Any

import asyncssh

from .errors import AuthRefused
from .hop import Hop
from .session import KeySet, SshSession

PROMPT_TRIES = 3  # OpenSSH's NumberOfPasswordPrompts


class AuthClient(asyncssh.SSHClient):
    """asyncssh's callbacks for one hop's connection, asking through the session."""

    def __init__(self, session: SshSession, hop: Hop, keys: KeySet) -> None:
        self.session = session
        self.hop = hop
        self.ask_first = list(keys.ask_first)
        self.skipped = list(keys.skipped)
        self.paths = list(keys.paths)
        self.offered: list[list[str]] = []  # the methods left at each step, in order
        self.answered: list[str] = []  # methods we sent an answer for
        self.not_asked = ""  # why a question went unanswered (no terminal, cancelled)
        self._passwords = 0
        self._kbdint = 0
        self._banner = ""  # the server's banner, shown with the next question

    def connection_made(self, conn: Any) -> None:
        # The server names the methods it still accepts in each failure; asyncssh hands them
        # to try_next_auth, which has no callback of its own: note them on the way.
        step = getattr(conn, "try_next_auth", None)
        if step is None:
            return

        def noted(*, next_method: bool = False) -> None:
            if not next_method:
                self._note(conn)
            step(next_method=next_method)

        conn.try_next_auth = noted

    def _note(self, conn: Any) -> None:
        methods = [m for m in conn.get_server_auth_methods() if m != "none"]
        if methods and (not self.offered or self.offered[-1] != methods):
            self.offered.append(methods)

    def auth_banner_received(self, msg: str, lang: str) -> None:
        # Where a one-time code comes from is often said here, before the question.
        self._banner = msg.strip()

    async def _ask(self, prompt: str, echo: bool) -> tuple[str | None, str]:
        banner, self._banner = self._banner, ""
        return await self.session.ask(f"{banner}\n{prompt}" if banner else prompt, echo)

    @property
    def who(self) -> str:
        return f"{self.hop.user}@{self.hop.hostname}" if self.hop.user else self.hop.hostname

    async def public_key_auth_requested(self) -> Any:
        # Reached once the agent's keys and the loaded ones are used up: now the encrypted
        # keys without a .pub, whose passphrase has to come first.
        while self.ask_first:
            path = self.ask_first.pop(0)
            keys = await self.session.load_with_passphrase(path, self.hop)
            if keys:
                return keys
        return None

    def unused_keys(self) -> list[str]:
        """Keys that could not be offered: unreadable, or their passphrase not given."""
        locked = [
            f"{p} ({self.session.unusable[p]})" for p in self.paths if p in self.session.unusable
        ]
        return self.skipped + locked

    async def password_auth_requested(self) -> str | None:
        if self._passwords >= PROMPT_TRIES:
            return None
        self._passwords += 1
        answer, why = await self._ask(f"{self.who}'s password: ", False)
        return self._took("password", answer, why)

    def kbdint_auth_requested(self) -> str | None:
        if self._kbdint >= PROMPT_TRIES or self.session.prompter is None:
            if self.session.prompter is None:
                self.not_asked = "nothing here can ask for it"
            return None
        self._kbdint += 1
        return ""  # no submethods: the server picks (PAM, a one-time code, ...)

    async def kbdint_challenge_received(
        self, name: str, instructions: str, lang: str, prompts: Any
    ) -> list[str] | None:
        if not prompts:
            return []  # an information-only round
        header = "\n".join(t for t in (name.strip(), instructions.strip()) if t)
        answers: list[str] = []
        for i, (text, echo) in enumerate(prompts):
            prompt = f"({self.who}) {text}"
            if i == 0 and header:
                prompt = f"{header}\n{prompt}"
            answer, why = await self._ask(prompt, bool(echo))
            if self._took("keyboard-interactive", answer, why) is None:
                return None
            answers.append(str(answer))
        return answers

    def _took(self, method: str, answer: str | None, why: str) -> str | None:
        if answer is None:
            self.not_asked = why
        elif method not in self.answered:
            self.answered.append(method)
        return answer


def refusal(what: str, hop: Hop, client: AuthClient | None, said: str = "") -> AuthRefused:
    """Which hop refused whom, the methods it offered step by step, and what to do
    (``said``: the server's own words when it hung up mid-way)."""
    user = hop.user or "(your login name)"
    if client is None or not client.offered:
        offered = "it named none we could use"
    else:
        offered = "; then ".join(", ".join(step) for step in client.offered)
    message = f"{what} refused user {user}; methods offered: {offered}"
    if said:
        message += f"; it said: {said}"
    unused = client.unused_keys() if client is not None else []
    if unused:
        message += f"; keys not used: {', '.join(unused)}"
    if client is not None and client.answered:
        hint = (
            f"the {' and '.join(client.answered)} answer was refused: check it and connect "
            "again (one-time codes expire)"
        )
    elif client is not None and client.not_asked:
        hint = f"{what} asks for a password or code, but {client.not_asked}"
        if "terminal" in client.not_asked or "nothing here" in client.not_asked:
            hint += (
                ": run it in a terminal, or set SSH_ASKPASS to a program that prints the "
                "answer (SSH_ASKPASS_REQUIRE=force where there is no DISPLAY)"
            )
    elif client is not None and any(p in client.session.unusable for p in client.paths):
        hint = (
            "give the key's passphrase when asked (on a terminal, or through SSH_ASKPASS), "
            "or load the key into ssh-agent with `ssh-add KEY`"
        )
    else:
        hint = (
            "check the user and IdentityFile, or that the key is loaded in ssh-agent (ssh-add -l)"
        )
    return AuthRefused(message, hint)
