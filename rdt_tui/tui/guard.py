"""Workers that cannot take the console down.

Textual ends the app with a traceback when a worker raises. Every ``@work`` in the console is
wrapped in :func:`guarded`, and every worker started by hand goes through :func:`run_guarded`
(never ``run_worker`` itself): an error becomes a notification that says what failed and what
to do, the traceback goes to the Textual log, and the console stays.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from textual.css.query import NoMatches
from textual.dom import DOMNode
from textual.worker import Worker

from .errors import error_text

F = TypeVar("F", bound=Callable[..., Any])


def report(owner: Any, what: str, exc: BaseException) -> None:
    """Notify ``what`` failed, with the error's message and hint; never raises."""
    try:
        owner.log.error(f"{what} failed", exc)
        owner.notify(f"{what} failed: {error_text(exc)}", severity="error", timeout=30)
    except Exception:  # the screen is gone: nothing left to tell
        pass


def guarded(what: str) -> Callable[[F], F]:
    """Decorate a worker method (below ``@work``): its errors are notified, never raised.
    ``NoMatches`` means the screen is being taken down and is dropped silently."""

    def wrap(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(self: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    return await fn(self, *args, **kwargs)
                except NoMatches:
                    return None
                except Exception as exc:
                    report(self, what, exc)
                    return None

            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except NoMatches:
                return None
            except Exception as exc:
                try:  # a thread worker: the notification is made on the app's thread
                    self.app.call_from_thread(report, self, what, exc)
                except RuntimeError:
                    report(self, what, exc)
                return None

        return run  # type: ignore[return-value]

    return wrap


def run_guarded(
    owner: DOMNode, what: str, work: Awaitable[Any], group: str, exclusive: bool = False
) -> Worker[Any]:
    """Run ``work`` as a worker of ``owner``, guarded as :func:`guarded` guards a method:
    its error is notified as ``what`` failing, never raised."""

    async def run() -> Any:
        try:
            return await work
        except NoMatches:
            return None
        except Exception as exc:
            report(owner, what, exc)
            return None

    return owner.run_worker(run(), group=group, exclusive=exclusive)
