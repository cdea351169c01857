"""A run of tqdm bars (``core.parsed.BarBlock``) appended to the store column by column.

The point-by-point append costs about 400 ns a point in Python; a block goes in by C loops
(``fromlist`` of whole columns, seqs from a ``range``) with the same rules and the same seqs.
"""

from itertools import chain, compress
from operator import eq, not_
from typing import Any, Dict, List, Optional, Tuple

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
    None, having done nothing, when a key is a name the store would refuse or is in the
    bar twice (the second value replaces the first, point by point). ``spans``: the
    bars' first seqs as ``range(a, b, m)`` pieces, where other points sit between them."""
    keys, steps, values = block
    m, n = len(keys), len(steps)
    if not n:
        return seq
    if len(set(keys)) < m:
        return None  # a key twice in a bar (`loss=1, loss=2`): the second replaces the first
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
    the other points by ``_append_points`` at their own seqs. An other line's points that
    share a series with the bars, or bring a name not yet known (which the store might refuse
    or must number in order), cut the run there: the bars before them go in first. None,
    having done nothing, when the store would refuse a new name (the run then goes in as the
    blocks and points it is made of, each refused where it must be)."""
    keys, steps, values, others = run
    if len(set(keys)) < len(keys):
        return None  # a key twice in a bar: point by point (append_block refuses it)
    new = {q[0] for _, points in others for q in points if q[0] not in store._index}
    new.update(k for k in keys if k not in store._index)
    if not store.takes(sorted(new)):
        return None
    m, index = len(keys), store._index
    spans: List[Tuple[int, int]] = []
    waiting: List[Tuple[int, List[Any]]] = []  # (the seq before its first point, points)
    at = start = 0  # bars placed; the first bar not yet appended
    cursor = seq

    def flush() -> None:
        if at > start:
            cols = values if start == 0 and at == len(steps) else [c[start:at] for c in values]
            block = BarBlock(keys, steps[start:at] if cols is not values else steps, cols)
            append_block(store, block, spans[0][0] - 1, changed, new_names, spans)
        for before, points in waiting:
            store._append_points(points, before, changed, new_names)

    for bar, points in others:
        if bar > at:
            spans.append((cursor + 1, cursor + 1 + (bar - at) * m))
            cursor += (bar - at) * m
            at = bar
        if all(q[0] in index and q[0] not in keys for q in points):
            waiting.append((cursor, points))
            cursor += len(points)
            continue
        flush()  # the run before, then these points in line order
        cursor = store._append_points(points, cursor, changed, new_names)
        spans, waiting, start = [], [], at
    if len(steps) > at:
        spans.append((cursor + 1, cursor + 1 + (len(steps) - at) * m))
        cursor += (len(steps) - at) * m
        at = len(steps)
    flush()
    return cursor
