"""A run of tqdm bars (``core.parsed.BarBlock``) appended to the store column by column.

The point-by-point append costs about 400 ns a point in Python; a block goes in by C loops
(``fromlist`` of whole columns, seqs from a ``range``) with the same rules and the same seqs.
"""

from itertools import chain, compress
from operator import eq, not_
from typing import Dict, List, Optional, Tuple

from ..core.parsed import BarBlock, BarRun
from .metricstate import StoreState


def append_block(
    store: StoreState,
    block: BarBlock,
    seq: int,
    changed: Dict[int, int],
    new_names: List[str],
    spans: Optional[List[Tuple[int, int]]] = None,
) -> Optional[int]:
    """A run of bars appended column by column (C loops), with the rules of
    ``_append_points``: bar i's value of key j takes seq ``seq + i*m + j + 1``, and a bar
    of the same step as the one before it (or as its series' last point) replaces it.
    None, having done nothing, when a key is a name the store would refuse. ``spans``: the
    bars' first seqs as ``range(a, b, m)`` pieces, where other points sit between them."""
    keys, steps, values = block
    m, n = len(keys), len(steps)
    if not n:
        return seq
    if spans is None:
        spans = [(seq + 1, seq + 1 + n * m)]
    unknown = [k for k in keys if k not in store._index]
    if not store.takes(unknown):
        return None
    for name in unknown:
        store._add_name(name)
        new_names.append(name)
    kept_steps = steps
    keep = None
    if n > 1:
        same = list(map(eq, steps[1:], steps[:-1]))
        if True in same:  # a bar repainted with new values: the later one is the point
            keep = list(map(not_, same))
            keep.append(True)
            kept_steps = list(compress(steps, keep))
    index, series = store._index, store._series
    first_step = steps[0]
    for j, name in enumerate(keys):
        k = index[name]
        s = series[k]
        seqs = _seqs(spans, j, m)
        col = values[j]
        at = len(s.seq)
        if at and s.step[-1] == first_step:
            at -= 1  # its series' last point, repainted: replaced
            del s.seq[at:], s.step[at:], s.value[at:]
        # fromlist: a C loop over a list, the quickest way into an array (extend from
        # an iterator takes twice as long).
        if keep is None:
            s.seq.fromlist(seqs)
            s.value.fromlist(col)
        else:
            s.seq.fromlist(list(compress(seqs, keep)))
            s.value.fromlist(list(compress(col, keep)))
        s.step.fromlist(kept_steps)
        changed[k] = min(changed.get(k, at), at)
    return spans[-1][1] - 1


def _seqs(spans: List[Tuple[int, int]], j: int, m: int) -> List[int]:
    """Key ``j``'s seqs: each span's ``range``, shifted by ``j``."""
    if len(spans) == 1:
        a, b = spans[0]
        return list(range(a + j, b + j, m))
    return list(chain.from_iterable([range(a + j, b + j, m) for a, b in spans]))


def append_run(
    store: StoreState, run: BarRun, seq: int, changed: Dict[int, int], new_names: List[str]
) -> Optional[int]:
    """A chunk's bars and the points between them (``core.parsed.BarRun``) with the seqs and
    the series a point-by-point append in line order would give: the bars column by column,
    the other points by ``_append_points`` at their own seqs. None, having done nothing, when
    that would not be the same: an other line gives a point of a bar's name (one series in
    two places) or of a name not yet known (which the store might refuse, or number first)."""
    keys, steps, values, others = run
    names = {q[0] for _, points in others for q in points}
    if not names.isdisjoint(keys) or not all(k in store._index for k in names):
        return None
    m = len(keys)
    spans: List[Tuple[int, int]] = []
    starts: List[int] = []  # where each entry of others starts: the seq before its first point
    at, cursor = 0, seq
    for bar, points in others:
        if bar > at:
            spans.append((cursor + 1, cursor + 1 + (bar - at) * m))
            cursor += (bar - at) * m
            at = bar
        starts.append(cursor)
        cursor += len(points)
    if len(steps) > at:
        spans.append((cursor + 1, cursor + 1 + (len(steps) - at) * m))
        cursor += (len(steps) - at) * m
    block = BarBlock(keys, steps, values)
    if spans and append_block(store, block, seq, changed, new_names, spans) is None:
        return None  # a key the store refuses
    add = store._append_points
    for start, (_, points) in zip(starts, others):
        add(points, start, changed, new_names)
    return cursor
