"""A finished run's columns.bin is mapped by a restarted daemon. Cut short under it (by hand,
a restore, a tool that rewrites files in place), the next read of a mapped page past the new
end used to kill the whole daemon with SIGBUS, every run's monitoring with it. Each read
(since, history, an append that takes the columns back) first checks the mapped file's size
(one fstat) and, when it is short, takes the points back from points.bin, which stays the
truth. In a subprocess: on the old code it dies of SIGBUS."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from rdt_tui.agent import metricseal
    from rdt_tui.agent.metricstore import MetricStore
    from rdt_tui.core.parsed import ParsedPoints

    metricseal.SEAL_MIN = 1000
    d = sys.argv[1]
    n = 300000
    block = ParsedPoints()
    block.block(("loss", "lr"), list(range(n)), [[1.0 / (i + 1) for i in range(n)], [0.1] * n])
    store = MetricStore(d)
    store.append(block, 1.0)
    store.save_cursor({"finished": True})
    want = store.history(None, 300), store.since(n - 5, 10), store.since(0, 10**9)
    store.close()
    again = MetricStore(d)
    assert again.load() is not None and again._mapped is not None
    os.truncate(os.path.join(d, metricseal.SEALED), 4096)
    got = again.history(None, 300), again.since(n - 5, 10), again.since(0, 10**9)
    assert got == want, "different points after the sealed file was cut short"
    again.append([("loss", 0.5, n)], 2.0)
    print("ok", again.last_seq)
    """
)


def test_a_sealed_file_cut_short_under_the_store_is_not_a_crash(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.split() == ["ok", str(2 * 300000 + 1)]
