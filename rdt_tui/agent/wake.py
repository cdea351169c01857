"""A wait for news that a cancel always ends.

``asyncio.wait_for(fut, timeout)`` is not that before Python 3.12: when a cancel lands in the
loop turn where ``fut`` gets its result, it returns the result and drops the cancel. A
subscription's pump waits this way for each poll of its run's watcher and each GPU sample, so
an unsubscribe (or a closed connection) that came as news did left the pump pushing events, or
waiting for them, until the run's end; on a quiet run, forever. Here the task awaits ``fut``
itself, with a timer that sets it: a cancel in any turn raises in the waiter.
"""

import asyncio


async def wait_set(fut: "asyncio.Future[None]", timeout: float) -> None:
    """Until ``fut`` (set by a source the caller gave it to) is done, or ``timeout`` seconds."""
    timer = asyncio.get_event_loop().call_later(timeout, wake, fut)
    try:
        await fut
    finally:
        timer.cancel()


def wake(fut: "asyncio.Future[None]") -> None:
    if not fut.done():
        fut.set_result(None)
