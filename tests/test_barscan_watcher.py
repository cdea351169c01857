"""The agent's real watcher (agent/watch.py RunWatcher: LogFollower.read_text, the bytes parse,
the store's runs, the fatal line) on a real log file that grows in random pieces, restarted
from its cursor once on the way, gives what the old line path gives for the same polls:
``LineSplitter.feed`` -> ``MetricParser(fast=False).parse_lines`` -> ``MetricStore.append``,
and ``fatal_word`` over the joined lines with the first line holding it."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest

from rdt_tui.agent import follower
from rdt_tui.agent.metricstore import MetricStore
from rdt_tui.agent.watch import RunWatcher
from rdt_tui.core.alerts import fatal_word
from rdt_tui.core.lines import LineSplitter
from rdt_tui.core.metrics import MetricParser

from .fakes import OneRunStore
from .test_barscan_fuzz import cuts_of, generated_log, store_state, taken  # noqa: F401 (a fixture)


class LinePath:
    """The old path, fed the bytes each poll of the watcher reads."""

    def __init__(self, directory: str, max_line: int) -> None:
        self.max_line = max_line
        self.split = LineSplitter(0, max_line)
        self.parser = MetricParser("auto", fast=False)
        self.store = MetricStore(directory)

    def poll(self, data: bytes, final: bool) -> tuple[int, str, str] | None:
        lines = self.split.feed(data)
        if final:
            lines.extend(self.split.flush())
        self.store.append(self.parser.parse_lines(lines), 1.0)
        word = fatal_word("\n".join(lines))
        if word is None:
            return None
        return self.split.consumed, word, next(x for x in lines if word in x)

    def restart(self, offset: int) -> None:
        """As the watcher restarts: a new splitter at the cursor's offset, the parser's state
        through the cursor's JSON (``_last_bar`` made a tuple again, as ``_add_follower``)."""
        self.split = LineSplitter(offset, self.max_line)
        last_step, last_bar = json.loads(json.dumps([self.parser.last_step, self.parser._last_bar]))
        self.parser.last_step = last_step
        self.parser._last_bar = (
            None if last_bar is None else (last_bar[0], [tuple(p) for p in last_bar[1]])
        )


@pytest.mark.parametrize("seed", range(20))
def test_the_watcher_stores_and_flags_what_the_line_path_does(
    seed: int,
    taken: dict[str, int],  # noqa: F811 (the fixture)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(seed)
    max_line = rng.choice([follower.MAX_LINE, 300, 4096])
    monkeypatch.setattr(follower, "MAX_LINE", max_line)
    data = generated_log(rng, rng.choice([300, 1200]))
    bounds = [0, *cuts_of(rng, data), len(data)]
    run = tmp_path / "run"
    run.mkdir()
    log = run / "output.log"
    log.write_bytes(b"")
    watcher = RunWatcher(OneRunStore(run), "r1")  # type: ignore[arg-type]
    old = LinePath(str(tmp_path / "old"), max_line)
    restart_at = rng.randrange(len(bounds) - 1)
    unread = b""  # what a restarted watcher reads again: the partial line after its cursor
    for n, (a, b) in enumerate(itertools.pairwise(bounds)):
        final = n == len(bounds) - 2
        with log.open("ab") as fh:
            fh.write(data[a:b])
        watcher.fatal = []
        points, more = watcher._read_logs(final)
        assert not more
        watcher.metrics.append(points, 1.0)
        want = old.poll(unread + data[a:b], final)
        unread = b""
        assert watcher.fatal == ([want] if want else []), (seed, n)
        parser = watcher.parsers[watcher.output_log]
        assert (parser.last_step, parser._last_bar) == (old.parser.last_step, old.parser._last_bar)
        if n == restart_at:
            watcher.metrics.save_cursor(watcher._cursor())
            watcher.metrics.close()
            offset = watcher.followers[watcher.output_log].offset
            for f in watcher.followers.values():
                f.close()
            watcher = RunWatcher(OneRunStore(run), "r1")  # type: ignore[arg-type]
            old.restart(offset)
            unread = data[offset:b]
    assert store_state(watcher.metrics) == store_state(old.store)
    assert taken["bars"] > 0 and old.store.last_seq > 100  # the bytes' bars, many points
    watcher.metrics.close()
    old.store.close()
