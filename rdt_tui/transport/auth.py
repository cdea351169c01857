"""Where a password, a one-time code or a key's passphrase is asked: one seam, :class:`Prompter`.

The transport asks through whatever prompter its caller gave it, so the layers stay apart: the
CLI asks on the terminal or through ``SSH_ASKPASS`` (:class:`OpenSshPrompter`, OpenSSH's rules),
the console in a modal with hidden input (``tui/secret_prompt.py``). An answer only ever goes
back to the SSH server: it is never stored on disk, logged, or put into an exception's text.

Standard library only (the console imports nothing of asyncssh through here).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
from collections.abc import Mapping
from typing import Protocol

ASKPASS_TIMEOUT_S = 300.0  # a person typing at a GUI askpass; sshd's LoginGraceTime is 120 s
# Debian's and most distributions' path; OpenSSH's compiled-in default is the X11R6 one.
DEFAULT_ASKPASS = ("/usr/bin/ssh-askpass", "/usr/lib/ssh/ssh-askpass", "/usr/X11R6/bin/ssh-askpass")


class NoPrompt(Exception):
    """There is no way to ask: no terminal, and SSH_ASKPASS not usable. ``str()`` says why."""


class Prompter(Protocol):
    """Asks the person at the keyboard one question.

    ``echo`` is False for secrets (passwords, codes, passphrases). Returns the answer without
    its line ending, or None when the person cancelled; raises :class:`NoPrompt` when there is
    no one to ask. It may wait as long as a person does: callers bound the wait.
    """

    async def ask(self, prompt: str, echo: bool) -> str | None: ...


class TerminalPrompter:
    """Asks on the controlling terminal (``/dev/tty``, never stdin/stdout, so pipes and
    ``--json`` stay clean), with echo off for secrets. The read is an event-loop reader, not a
    thread: a cancelled ask leaves nothing blocked behind it."""

    async def ask(self, prompt: str, echo: bool) -> str | None:
        try:
            fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError as exc:
            raise NoPrompt(f"there is no terminal to ask on ({exc.strerror})") from None
        try:
            return await _read_tty_line(fd, prompt, echo)
        except termios.error as exc:
            raise NoPrompt(f"/dev/tty is not a terminal ({exc})") from None
        finally:
            os.close(fd)


async def _read_tty_line(fd: int, prompt: str, echo: bool) -> str | None:
    old = termios.tcgetattr(fd)
    if not echo:
        new = list(old)
        new[3] &= ~termios.ECHO  # lflags: no echo, but the terminal still edits the line
        new[3] |= termios.ECHONL
        termios.tcsetattr(fd, termios.TCSAFLUSH, new)
    loop = asyncio.get_running_loop()
    line = bytearray()
    done: asyncio.Future[bool] = loop.create_future()

    def readable() -> None:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            chunk = b""
        if not chunk:
            if not done.done():
                done.set_result(False)  # end of input (ctrl+d): a cancel
            return
        line.extend(chunk)
        if b"\n" in line and not done.done():
            done.set_result(True)

    try:
        os.write(fd, printable(prompt).encode())
        loop.add_reader(fd, readable)
        try:
            complete = await done
        finally:
            loop.remove_reader(fd)
        if not complete:
            return None
        return line.split(b"\n", 1)[0].rstrip(b"\r").decode(errors="replace")
    finally:
        if not echo:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(fd, termios.TCSAFLUSH, old)


class AskpassPrompter:
    """Runs an askpass program as OpenSSH does: the prompt as its only argument, the answer
    on its stdout up to the first line ending; a non-zero exit is a cancel."""

    def __init__(self, program: str, timeout: float = ASKPASS_TIMEOUT_S) -> None:
        self.program = program
        self.timeout = timeout

    async def ask(self, prompt: str, echo: bool) -> str | None:
        try:
            proc = await asyncio.create_subprocess_exec(
                self.program,
                prompt,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=None,  # the askpass program's own complaints reach the user
            )
        except OSError as exc:
            raise NoPrompt(f"SSH_ASKPASS {self.program!r} does not run: {exc.strerror}") from None
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), self.timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            return None
        except asyncio.CancelledError:
            if proc.returncode is None:
                proc.kill()
            raise
        if proc.returncode != 0:
            return None
        text = out.decode(errors="replace")
        for end in ("\r", "\n"):
            text = text.split(end, 1)[0]
        return text


class OpenSshPrompter:
    """The CLI's prompter: the terminal, or ``SSH_ASKPASS`` by OpenSSH's rules (readpass.c).

    - ``SSH_ASKPASS_REQUIRE=force``: always the askpass program, display or not;
    - ``prefer``: the askpass program when ``DISPLAY`` or ``WAYLAND_DISPLAY`` is set;
    - ``never``: never the askpass program;
    - unset: the terminal, and the askpass program only when there is no terminal and a
      display is set.

    The askpass program is ``SSH_ASKPASS``, else the system's ``ssh-askpass`` where installed.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = os.environ if env is None else env
        self.terminal = TerminalPrompter()

    def _askpass_program(self) -> str | None:
        program = self.env.get("SSH_ASKPASS")
        if program:
            return program
        return next((p for p in DEFAULT_ASKPASS if os.access(p, os.X_OK)), None)

    def choice(self) -> str:
        """``askpass``, ``terminal`` or ``none``: how the next question would be asked."""
        display = bool(self.env.get("DISPLAY") or self.env.get("WAYLAND_DISPLAY"))
        require = self.env.get("SSH_ASKPASS_REQUIRE", "").lower()
        allow, use = display, False
        if require == "force":
            allow = use = True
        elif require == "prefer":
            use = display
        elif require == "never":
            allow = False
        tty = _has_tty()
        if not use and not tty:
            use = True
        if use and allow and self._askpass_program():
            return "askpass"
        return "terminal" if tty else "none"

    async def ask(self, prompt: str, echo: bool) -> str | None:
        how = self.choice()
        if how == "askpass":
            return await AskpassPrompter(str(self._askpass_program())).ask(prompt, echo)
        if how == "terminal":
            return await self.terminal.ask(prompt, echo)
        raise NoPrompt(
            "there is no terminal to ask on, and SSH_ASKPASS is not usable here "
            "(it needs DISPLAY, or SSH_ASKPASS_REQUIRE=force)"
        )


def printable(text: str) -> str:
    """``text`` with control characters shown as ``?``: a server's prompt or banner must not
    drive the terminal (OpenSSH filters them the same way)."""
    return "".join(c if c == "\n" or c.isprintable() else "?" for c in text)


def _has_tty() -> bool:
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return False
    return True
