"""One poll's points appended to the store once per series, not once per part.

A log that mixes tqdm bars with key=value and JSON lines parses into hundreds of small parts
a second (a run of one or two bars, then a line's points, then bars again). Appended part by
part, each costs its own trip through the series' columns, about 3 us, more than the points
themselves. Here every part's seqs, steps and values are first gathered per series (a bar
block's by C loops: ``extend`` of a ``range`` and of its columns), then each series takes its
points in one ``fromlist`` per column. The rules, and so the seqs and the columns, are those
of appending point by point: points are numbered in parse order, a point with the step of its
series' previous point replaces it (a bar repainted; it keeps its new seq), a point without a
step never replaces, a name the store refuses is dropped and takes no seq.
"""

from itertools import compress
from operator import eq, ne
from typing import Dict, List, Sequence, Tuple, Union

from ..core.metrics import MAX_STEP, MetricPoint
from ..core.parsed import BarBlock, Part, block_points
from .metricstate import Series, StoreState

NO_STEP = -(2**63)  # the step column's "no step" (metricstore.NO_STEP)

_Columns = Tuple[List[int], List[int], List[float]]  # a series' seqs, steps, values


def append_parts(
    store: StoreState,
    parts: Sequence[Union[Part, Sequence[MetricPoint]]],
    seq: int,
    changed: Dict[int, int],
    new_names: List[str],
) -> int:
    """Append ``parts`` after ``seq``; the last seq given. ``changed`` gets each touched
    series' first index this batch wrote, ``new_names`` the names it added."""
    by_name: Dict[str, _Columns] = {}  # this batch's points per name, in first-touch order
    by_keys: Dict[Tuple[str, ...], List[_Columns]] = {}  # a bar's keys: their columns
    for part in parts:
        if isinstance(part, BarBlock):
            keys, steps, values = part
            n = len(steps)
            if not n:
                continue
            targets = by_keys.get(keys)
            if targets is None:
                if not _take_block(store, keys, new_names):  # a name refused: point by point
                    seq = _gather_points(store, block_points(part), seq, by_name, new_names)
                    continue
                targets = by_keys[keys] = [_columns(by_name, k) for k in keys]
            m = len(keys)
            end = seq + 1 + n * m
            for j, got in enumerate(targets):  # bar i's key j: seq + i*m + j + 1
                got[0].extend(range(seq + 1 + j, end, m))
                got[1].extend(steps)
                got[2].extend(values[j])
            seq = end - 1
        else:
            seq = _gather_points(store, part, seq, by_name, new_names)
    index, series = store._index, store._series
    for name, (seqs, steps, values) in by_name.items():
        k = index[name]
        changed[k] = _extend(series[k], seqs, steps, values)
    return seq


def _take_block(store: StoreState, keys: Tuple[str, ...], new_names: List[str]) -> bool:
    """Whether the store keeps all of a bar's keys (adding the new ones), or refuses one."""
    index = store._index
    unknown = [k for k in keys if k not in index]
    if unknown:
        if not store.takes(unknown):
            return False
        for name in unknown:
            if name not in index:
                store._add_name(name)
                new_names.append(name)
    return True


def _columns(by_name: Dict[str, _Columns], name: str) -> _Columns:
    got = by_name.get(name)
    if got is None:
        got = by_name[name] = ([], [], [])
    return got


def _gather_points(
    store: StoreState,
    points: Sequence[MetricPoint],
    seq: int,
    by_name: Dict[str, _Columns],
    new_names: List[str],
) -> int:
    for name, value, step in points:
        got = by_name.get(name)
        if got is None:
            if name not in store._index:
                if not store.takes([name]):
                    store.dropped += 1
                    continue
                store._add_name(name)
                new_names.append(name)
            got = by_name[name] = ([], [], [])
        if step is None or not -MAX_STEP <= step <= MAX_STEP:  # False for NaN too
            step = NO_STEP
        elif type(step) is not int:
            step = int(step)  # 5.0 from a project format: an int64 column takes no float
        seq += 1
        got[0].append(seq)
        got[1].append(step)
        got[2].append(value)
    return seq


def _extend(s: Series, seqs: List[int], steps: List[int], values: List[float]) -> int:
    """A series' points of this batch appended; the first index written (one less than its
    length before when its last point was replaced)."""
    if len(steps) > 1:
        # A point followed by one of the same step is replaced by it (a repaint): only the
        # last of such a run is kept. Steps of NO_STEP are equal but are no repaint.
        later = steps[1:]
        if True in map(eq, later, steps[:-1]):
            keep = list(map(ne, later, steps[:-1]))
            if NO_STEP in later:
                keep = [d or x == NO_STEP for d, x in zip(keep, later)]
            keep.append(True)
            seqs = list(compress(seqs, keep))
            steps = list(compress(steps, keep))
            values = list(compress(values, keep))
    at = len(s.seq)
    if at and steps[0] != NO_STEP and s.step[-1] == steps[0]:
        at -= 1  # its last point, repainted: replaced
        del s.seq[at:], s.step[at:], s.value[at:]
    # fromlist: a C loop over a list, the quickest way into an array. The values first: a
    # value that is no number fails there and leaves the three columns as long as before.
    s.value.fromlist(values)
    s.seq.fromlist(seqs)
    s.step.fromlist(steps)
    return at
