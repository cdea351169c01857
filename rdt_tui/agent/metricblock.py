"""A run of tqdm bars (``core.parsed.BarBlock``) appended to the store column by column.

The point-by-point append costs about 400 ns a point in Python; a block goes in by C loops
(``fromlist`` of whole columns, seqs from a ``range``) with the same rules and the same seqs.
"""

from itertools import compress
from operator import eq, not_
from typing import Dict, List, Optional

from ..core.parsed import BarBlock
from .metricstate import StoreState


def append_block(
    store: StoreState, block: BarBlock, seq: int, changed: Dict[int, int], new_names: List[str]
) -> Optional[int]:
    """A run of bars appended column by column (C loops), with the rules of
    ``_append_points``: bar i's value of key j takes seq ``seq + i*m + j + 1``, and a bar
    of the same step as the one before it (or as its series' last point) replaces it.
    None, having done nothing, when a key is a name the store would refuse."""
    keys, steps, values = block
    m, n = len(keys), len(steps)
    if not n:
        return seq
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
        seqs = range(seq + 1 + j, seq + 1 + n * m, m)
        col = values[j]
        at = len(s.seq)
        if at and s.step[-1] == first_step:
            at -= 1  # its series' last point, repainted: replaced
            del s.seq[at:], s.step[at:], s.value[at:]
        # fromlist: a C loop over a list, the quickest way into an array (extend from
        # an iterator takes twice as long).
        if keep is None:
            s.seq.fromlist(list(seqs))
            s.value.fromlist(col)
        else:
            s.seq.fromlist(list(compress(seqs, keep)))
            s.value.fromlist(list(compress(col, keep)))
        s.step.fromlist(kept_steps)
        changed[k] = min(changed.get(k, at), at)
    return seq + n * m
