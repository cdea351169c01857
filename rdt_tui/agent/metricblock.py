"""A run of tqdm bars (``core.parsed.BarBlock``) appended to the store column by column.

The point-by-point append costs about 400 ns a point in Python; a block goes in by C loops
(``fromlist`` of whole columns, seqs from a ``range``) with the same rules and the same seqs.
"""

from itertools import chain, compress, repeat
from operator import add, eq, not_
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..core.parsed import BarBlock, BarRun
from ..core.points import MAX_STEP
from .metricstate import NO_STEP, StoreState


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
    if len(set(keys)) < m:
        return None  # a key twice in a bar (`loss=1, loss=2`): the second replaces the first
    if spans is None:
        spans = [(seq + 1, seq + 1 + n * m)]
    if not _add_keys(store, keys, new_names):
        return None
    keep = _repaints(steps)
    for j, name in enumerate(keys):
        _append_series(store, name, steps, values[j], _seqs(spans, j, m), keep, changed)
    return spans[-1][1] - 1


def _add_keys(store: StoreState, keys: Sequence[str], new_names: List[str]) -> bool:
    """The keys the store does not know yet, numbered in order; False (none added) when it
    would refuse one."""
    unknown = [k for k in keys if k not in store._index]
    if not store.takes(unknown):
        return False
    for name in unknown:
        store._add_name(name)
        new_names.append(name)
    return True


def _repaints(steps: List[int]) -> Optional[List[bool]]:
    """Which bars to keep, when one has the step of the bar after it (a repaint with new
    values: the later one is the point); None when every bar is kept."""
    if len(steps) > 1:
        same = list(map(eq, steps[1:], steps[:-1]))
        if True in same:
            keep = list(map(not_, same))
            keep.append(True)
            return keep
    return None


def _append_series(
    store: StoreState,
    name: str,
    steps: List[int],
    col: List[float],
    seqs: List[int],
    keep: Optional[List[bool]],
    changed: Dict[int, int],
) -> None:
    """One key's values of consecutive bars onto its series; the first replaces the series'
    last point when it has its step."""
    if not steps:
        return
    k = store._index[name]
    s = store._series[k]
    at = len(s.seq)
    if at and s.step[-1] == steps[0]:
        at -= 1  # its series' last point, repainted: replaced
        del s.seq[at:], s.step[at:], s.value[at:]
    # fromlist: a C loop over a list, the quickest way into an array (extend from an
    # iterator takes twice as long).
    if keep is None:
        s.seq.fromlist(seqs)
        s.value.fromlist(col)
        s.step.fromlist(steps)
    else:
        s.seq.fromlist(list(compress(seqs, keep)))
        s.value.fromlist(list(compress(col, keep)))
        s.step.fromlist(list(compress(steps, keep)))
    changed[k] = min(changed.get(k, at), at)


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
    the series a point-by-point append in line order would give, one name at a time: the
    bars' keys column by column, the other points grouped per name at their own seqs, and a
    key that other lines also give (a JSON line's ``lr`` beside the bar's) as the bars' column
    and those points merged in seq order. None, having done nothing, when the store would
    refuse a new name (the run then goes in as the blocks and points it is made of, each
    refused where it must be)."""
    keys, steps, values, others = run
    if len(set(keys)) < len(keys):
        return None  # a key twice in a bar: point by point (append_block refuses it)
    index = store._index
    m, n = len(keys), len(steps)
    spans: List[Tuple[int, int]] = []
    starts: List[int] = []  # the seq before each entry of others' first point
    at, cursor = 0, seq
    for bar, points in others:
        if bar > at:
            spans.append((cursor + 1, cursor + 1 + (bar - at) * m))
            cursor += (bar - at) * m
            at = bar
        starts.append(cursor)
        cursor += len(points)
    if n > at:
        spans.append((cursor + 1, cursor + 1 + (n - at) * m))
        cursor += (n - at) * m
    by_name = _by_name(others, starts)
    new_others = [k for k in by_name if k not in index]
    new = set(new_others) | {k for k in keys if k not in index}
    if not store.takes(sorted(new)):
        return None
    if new_others:  # names numbered in the order lines bring them: line order throughout
        return _append_in_order(store, run, seq, changed, new_names)
    _add_keys(store, keys, new_names)
    keep = _repaints(steps)
    first = _seqs(spans, 0, m)  # the first key's seqs; key j's are j more
    for j, name in enumerate(keys):
        seqs = list(map(add, first, repeat(j))) if j else first
        col = by_name.get(name)
        if col is None:
            if n:
                _append_series(store, name, steps, values[j], seqs, keep, changed)
            continue
        # A name other lines give too: its bars' points and theirs, merged in seq order.
        both = seqs + col[0]
        order = sorted(range(len(both)), key=both.__getitem__)  # two sorted runs: one merge
        by_name[name] = (
            list(map(both.__getitem__, order)),
            list(map((steps + col[1]).__getitem__, order)),
            list(map((values[j] + col[2]).__getitem__, order)),
        )
    for name, (col_seqs, col_steps, col_values) in by_name.items():
        _append_column(store, name, col_seqs, col_steps, col_values, changed)
    return cursor


def _by_name(
    others: List[Tuple[int, List[Any]]], starts: List[int]
) -> Dict[str, Tuple[List[int], List[int], List[float]]]:
    """The other lines' points as columns per name, in line order: seqs (each entry's from
    the seq before it in ``starts``), steps as the store keeps them, values."""
    out: Dict[str, Tuple[List[int], List[int], List[float]]] = {}
    get = out.get
    for (_, points), q in zip(others, starts):
        for name, value, step in points:
            q += 1
            if type(step) is not int or not -MAX_STEP <= step <= MAX_STEP:
                step = store_step(step)
            col = get(name)
            if col is None:
                col = out[name] = ([], [], [])
            col[0].append(q)
            col[1].append(step)
            col[2].append(value)
    return out


def store_step(step: Any) -> int:
    """A point's step as the store keeps it (``MetricStore._append_points``' rule)."""
    if step is None or not -MAX_STEP <= step <= MAX_STEP:  # False for NaN too
        return NO_STEP
    return step if type(step) is int else int(step)


def _append_column(
    store: StoreState,
    name: str,
    seqs: List[int],
    steps: List[int],
    values: List[float],
    changed: Dict[int, int],
) -> None:
    """One name's points (in seq order) onto its series with ``_append_points``' rule: a
    point of the same step as the point before it in the series replaces it (a point
    without a step never does)."""
    k = store._index[name]
    s = store._series[k]
    at = len(s.seq)
    if at and steps[0] != NO_STEP and s.step[-1] == steps[0]:
        at -= 1  # its series' last point, repainted: replaced
        del s.seq[at:], s.step[at:], s.value[at:]
    keep = _repaints(steps)
    if keep is not None and NO_STEP in steps:  # no step is no repaint
        keep = [kept or step == NO_STEP for kept, step in zip(keep, steps)]
    if keep is None:
        s.seq.fromlist(seqs)
        s.value.fromlist(values)
        s.step.fromlist(steps)
    else:
        s.seq.fromlist(list(compress(seqs, keep)))
        s.value.fromlist(list(compress(values, keep)))
        s.step.fromlist(list(compress(steps, keep)))
    changed[k] = min(changed.get(k, at), at)


def _append_in_order(
    store: StoreState, run: BarRun, seq: int, changed: Dict[int, int], new_names: List[str]
) -> int:
    """``append_run`` cut at every other line that brings a new name: the bars before it,
    then its points, in line order (the first read of a log)."""
    keys, steps, values, others = run
    m, index = len(keys), store._index
    spans: List[Tuple[int, int]] = []
    waiting: List[Tuple[int, List[Any]]] = []  # (the seq before its first point, points)
    at = start = 0  # bars placed; the first bar not yet appended
    cursor = seq

    def flush() -> None:
        if at > start:
            block = BarBlock(keys, steps[start:at], [c[start:at] for c in values])
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
