"""The daemon's periodic tasks wait for the next multiple of their period (supervise
``on_the_tick``), so those due in the same second wake the event loop once together: counted
as the loop's waits in its selector, not timed."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from rdt_tui.agent.supervise import on_the_tick

PERIOD = 0.05
TICKS = 20


def waits_of(sleep_for: Any, ticks: int = TICKS, starts: Any = None) -> tuple[int, int]:
    """Five tasks, each sleeping ``sleep_for(now)`` then doing a little work, ``ticks``
    times: how many times the loop waited in select, and how many wake-ups the tasks had.
    ``starts``: each task's first wait (default: random within a PERIOD)."""

    async def task(woken: list[int], start: float) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(start)  # started at different moments
        for _ in range(ticks):
            await asyncio.sleep(sleep_for(loop.time()))
            woken.append(1)

    async def main() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        selector = loop._selector  # type: ignore[attr-defined]
        real = selector.select
        waits = [0]

        def select(timeout: Any = None) -> Any:
            if timeout is None or timeout > 0:
                waits[0] += 1
            return real(timeout)

        selector.select = select
        woken: list[int] = []
        firsts = starts or [random.random() * PERIOD for _ in range(5)]
        await asyncio.gather(*(task(woken, first) for first in firsts))
        selector.select = real
        return waits[0], len(woken)

    return asyncio.run(main())


def test_tasks_on_the_tick_wake_the_loop_together() -> None:
    waits, woken = waits_of(lambda now: on_the_tick(PERIOD, now))
    assert woken == 5 * TICKS
    assert waits <= TICKS + 8  # one wait per tick for all five (and their random starts)


def test_tasks_on_their_own_timers_wake_it_each() -> None:
    """The reference: each task sleeps its period from its own start. Its five starts are a
    fifth of a period apart, and the period is 0.25 s, so that a loaded machine's late loop
    (tens of ms) does not merge their wake-ups (with 0.05 s and random starts, 6 of 15 runs
    merged enough to fail when both cores were busy)."""
    period, ticks = 0.25, 10
    waits, woken = waits_of(lambda now: period, ticks, [i * period / 5 for i in range(5)])
    assert woken == 5 * ticks and waits >= 3 * ticks  # of 5 * ticks; aligned: ticks + 8


def test_the_tick_is_never_closer_than_a_quarter_period() -> None:
    for now in (0.0, 0.76, 0.99, 1.0, 123.4567):
        wait = on_the_tick(1.0, now)
        assert 0.25 <= wait <= 1.25
        assert min((now + wait) % 1.0, 1.0 - (now + wait) % 1.0) < 1e-6  # on a whole second
