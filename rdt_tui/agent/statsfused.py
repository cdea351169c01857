"""The statistics job's fast path: the sums, minimum, maximum and entries nearest zero of a
block of rows, per dimension, in six numpy reductions that each read the rows once.

Where the time goes (2-core Sapphire Rapids, 1 GiB of 7-dim float64 rows in the page cache):
the rows come from memory once, in the first reduction over a sub-block of ~1 MiB; the other
five find that sub-block in the L2 cache (2 MiB), where numpy reduces at 25-55 GB/s. So:

- ``FOLD`` rows are laid side by side (a 7-column array reduced along axis 0 runs at 3.5 GB/s;
  1,792 columns at 35-55 GB/s), fewer for wide rows (``FOLD_COLUMNS``: 256 rows of 128 dims
  made 24 MiB of per-sub-block results a block, and were 2x slower), and folded back per
  dimension once per block;
- the sum is BLAS's ``gemv`` with a row of ones (55 GB/s in L2 against 40 for
  ``np.add.reduce``), the sum of squares ``einsum('ij,ij->j')`` (no squared copy: numpy has
  no routine that does several of these reductions in one pass);
- the minimum, the maximum and the entries nearest zero on each side come from four integer
  reductions of the same bytes: as int64, a float's order is kept for values whose sign bit is
  clear and reversed for the others (``-2**63 + bits(|x|)``), all of which lie below; as uint64
  the values with the sign bit set lie above. So the uint64 minimum is the smallest value
  >= +0 and the int64 minimum the negative value nearest zero (RDT counts |x| <= 1e-8 as
  zero: a block holds such an entry exactly when one of those two is that near), and the
  int64 maximum and uint64 maximum are the float maximum and minimum (see ``_min_max``).

No NaN reaches those: a NaN or Inf makes the sums non-finite, and the block then takes the
exact path (``statsjob._exact_part``), which also masks the entries near zero, as here.
"""

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Tuple

EPS = 1e-8
FOLD = 256  # rows laid side by side, at most
FOLD_COLUMNS = 2048  # ... and no more than needed for this many columns (wide rows: fewer)
SUB_BYTES = 1 << 20  # a sub-block, reduced six times while it stays in the L2 cache


def piece_rows(width: int) -> int:
    """Rows of about ``SUB_BYTES``: the slow paths work piece by piece, so their copies stay
    that small whatever the block."""
    return max(1, SUB_BYTES // (8 * max(1, width)))


class Work:
    """One thread's scratch, kept from block to block (no fresh pages per block)."""

    def __init__(self, np: Any) -> None:
        self.np = np
        self.shape: Tuple[int, int, int] = (0, 0, 0)
        self.scratch: Any = None
        self.spares: Any = None

    def arrays(self, nsub: int, step: int, k: int) -> Tuple[Any, Any, Any, Any]:
        """Per sub-block results: sums and sums of squares; int64 min and max; uint64 min
        and max (each ``k`` wide); and ``step`` ones."""
        np = self.np
        if nsub > self.shape[0] or step > self.shape[1] or k != self.shape[2]:
            nsub, step = max(nsub, self.shape[0]), max(step, self.shape[1])
            self.f = np.empty((2, nsub, k))
            self.i = np.empty((2, nsub, k), np.int64)
            self.u = np.empty((2, nsub, k), np.uint64)
            self.ones = np.ones(step)
            self.shape = (nsub, step, k)
        return self.f, self.i, self.u, self.ones

    def spare(self, k: int) -> Tuple[Any, Any, Any]:
        """The helper thread's own results of one sub-block (see ``Helper``)."""
        np = self.np
        if self.spares is None or self.spares[0].shape[1] != k:
            self.spares = tuple(np.empty((2, k), t) for t in (np.float64, np.int64, np.uint64))
        return self.spares

    def rows(self, n: int, width: int) -> Any:
        """``n`` x ``width`` float64 scratch (for the centred sum of squares)."""
        if self.scratch is None or self.scratch.shape[1] != width or len(self.scratch) < n:
            self.scratch = self.np.empty((n, width))
        return self.scratch[:n]


Out = Tuple[Any, Any, Any]  # one sub-block's results: (2, k) float64, int64 and uint64


class Helper:
    """A second thread that reduces sub-blocks beside this one. numpy's reductions release
    the GIL, but ``einsum`` holds it, so the two threads' sums of squares take turns (the
    six reductions of a sub-block in two threads at once measured 0.95-1.15x on this 2-core
    machine, never idle). Each thread takes the next sub-block nobody has claimed. Once
    none is left, this thread redoes what the helper still holds instead of waiting for it:
    a helper whose core is busy with other work may hold one for milliseconds, and must not
    make this thread wait. So the helper computes into ``spare`` and copies a result into
    its slot only if this thread has not taken that slot back; a late result is dropped.
    Each result has its own slot, so the statistics are the same bit for bit whoever
    reduced what."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.lock = threading.Lock()
        self.error: Optional[BaseException] = None

    def run(
        self, count: int, one: Callable[[int, Out], None], slot: Callable[[int], Out], spare: Out
    ) -> None:
        """Fill ``slot(0)`` .. ``slot(count - 1)``, ``one(j, out)`` computing sub-block ``j``
        into ``out``; raise what the helper raised."""
        claims = itertools.count()
        done = [False] * count  # the slot's result is in, or this thread is writing it
        held: List[int] = []  # what the helper is computing

        def helper_takes() -> None:
            while True:
                with self.lock:
                    j = next(claims)
                    if j >= count or self.error is not None:
                        return
                    held.append(j)
                try:
                    one(j, spare)
                except BaseException as exc:
                    with self.lock:
                        self.error = exc  # this thread redoes j, then raises it
                    return
                with self.lock:
                    held.remove(j)
                    if not done[j]:
                        done[j] = True
                        for into, result in zip(slot(j), spare):
                            into[...] = result

        self.pool.submit(helper_takes)  # a late start finds nothing left to claim
        while True:
            with self.lock:
                j = next(claims)
                if j >= count:
                    back = [h for h in held if not done[h]]
                    for h in back:
                        done[h] = True
                    break
                done[j] = True
            one(j, slot(j))
        for j in back:
            one(j, slot(j))
        with self.lock:
            error, self.error = self.error, None
        if error is not None:
            raise error

    def close(self) -> None:
        self.pool.shutdown()


def _reduced(
    x: Any, np: Any, work: Work, helper: Optional[Helper] = None
) -> Tuple[Any, Any, Any, Any, Any, Any]:
    """Per dimension of ``x``: sum, sum of squares, and the int64 min and max and uint64 min
    and max of its bytes; the sub-blocks shared with ``helper`` when given."""
    n, width = x.shape
    fold = max(1, min(FOLD, FOLD_COLUMNS // max(1, width)))
    if n < 4 * fold:
        fold = 1  # a short block is not worth the fold
    head = n - n % fold
    k = fold * width
    w = x[:head].reshape(head // fold, k)
    step = max(1, SUB_BYTES // (8 * max(1, k)))
    nsub = -(-w.shape[0] // step)
    f, i, u, ones = work.arrays(nsub, step, k)

    def one(j: int, out: Out) -> None:
        b = w[j * step : (j + 1) * step]
        bi, bu = b.view(np.int64), b.view(np.uint64)
        fo, io, uo = out
        np.dot(ones[: b.shape[0]], b, out=fo[0])
        np.einsum("ij,ij->j", b, b, out=fo[1])
        np.minimum.reduce(bi, axis=0, out=io[0])
        np.maximum.reduce(bi, axis=0, out=io[1])
        np.minimum.reduce(bu, axis=0, out=uo[0])
        np.maximum.reduce(bu, axis=0, out=uo[1])

    def slot(j: int) -> Out:
        return f[:, j], i[:, j], u[:, j]

    if helper is not None and nsub > 1:
        helper.run(nsub, one, slot, work.spare(k))
    else:
        for j in range(nsub):
            one(j, slot(j))
    if nsub > 1:  # the sub-blocks, then the FOLD rows side by side, each folded once
        fk = np.add.reduce(f[:, :nsub], axis=1)
        lo_i, hi_i = np.minimum.reduce(i[0, :nsub]), np.maximum.reduce(i[1, :nsub])
        lo_u, hi_u = np.minimum.reduce(u[0, :nsub]), np.maximum.reduce(u[1, :nsub])
    else:
        fk, lo_i, hi_i, lo_u, hi_u = f[:, 0], i[0, 0], i[1, 0], u[0, 0], u[1, 0]
    s, q = np.add.reduce(fk.reshape(2, fold, width), axis=1)
    if fold > 1:
        lo_i = np.minimum.reduce(lo_i.reshape(fold, width), axis=0)
        hi_i = np.maximum.reduce(hi_i.reshape(fold, width), axis=0)
        lo_u = np.minimum.reduce(lo_u.reshape(fold, width), axis=0)
        hi_u = np.maximum.reduce(hi_u.reshape(fold, width), axis=0)
    else:
        lo_i, hi_i, lo_u, hi_u = lo_i.copy(), hi_i.copy(), lo_u.copy(), hi_u.copy()
    if head < n:  # fewer than FOLD rows left over
        t = x[head:]
        s = s + np.add.reduce(t, axis=0)
        q = q + np.einsum("ij,ij->j", t, t)
        ti, tu = t.view(np.int64), t.view(np.uint64)
        lo_i = np.minimum(lo_i, np.minimum.reduce(ti, axis=0))
        hi_i = np.maximum(hi_i, np.maximum.reduce(ti, axis=0))
        lo_u = np.minimum(lo_u, np.minimum.reduce(tu, axis=0))
        hi_u = np.maximum(hi_u, np.maximum.reduce(tu, axis=0))
    return s, q, lo_i, hi_i, lo_u, hi_u


def _min_max(lo_i: Any, hi_i: Any, lo_u: Any, hi_u: Any, np: Any) -> Tuple[Any, Any]:
    """The float minimum and maximum from the integer ones. With a value whose sign bit is
    set, the uint64 maximum is the most negative value; without, the uint64 minimum is the
    smallest. With a value whose sign bit is clear, the int64 maximum is the largest value;
    without (all negative), the int64 minimum is the one nearest zero, the largest."""
    lo = np.where(lo_i < 0, hi_u.view(np.float64), lo_u.view(np.float64))
    hi = np.where(hi_i >= 0, hi_i.view(np.float64), lo_i.view(np.float64))
    return lo, hi


def fused_part(
    x: Any, divide: Any, np: Any, work: Work, helper: Optional[Helper] = None
) -> Optional[Dict[str, Any]]:
    """The summary ``statsjob._merge`` takes of one block of rows, or None when its sums
    are not finite (NaN, Inf or an overflow): the exact path then names or handles them.
    ``divide`` (or None) divides each dimension (the job's scale), applied to the results.
    Only dimensions that hold an entry within EPS of zero are masked, on a narrow copy."""
    n, width = x.shape
    s, q, lo_i, hi_i, lo_u, hi_u = _reduced(x, np, work, helper)
    if not (np.isfinite(s).all() and np.isfinite(q).all()):
        return None
    lo, hi = _min_max(lo_i, hi_i, lo_u, hi_u, np)
    near = EPS * (1 + 1e-9) * (np.ones(width) if divide is None else np.abs(divide))
    bits = near.view(np.int64)
    # 0 <= x <= near for the smallest x >= +0, or |x| <= near for the negative nearest zero
    unsure = (lo_u <= bits.view(np.uint64)) | (lo_i <= np.iinfo(np.int64).min + bits)
    mean = s / n
    m2 = q - s * mean
    step = piece_rows(width)
    if not (m2 >= q * 1e-4).all():  # |mean| >> std: the difference lost digits; centre
        m2 = np.zeros(width)
        for r in range(0, n, step):
            c = np.subtract(x[r : r + step], mean, out=work.rows(min(step, n - r), width))
            m2 += np.einsum("ij,ij->j", c, c)
    if divide is not None:
        s, q, m2, mean = s / divide, q / divide**2, m2 / divide**2, mean / divide
        lo, hi = lo / divide, hi / divide
        lo, hi = np.where(divide < 0, hi, lo), np.where(divide < 0, lo, hi)
    nz, sum_z, sumsq_z = np.full(width, n, dtype=np.int64), s, q
    if unsure.any():  # mask the entries near zero of those dimensions, piece by piece
        cols = np.flatnonzero(unsure)
        sum_z, sumsq_z = s.copy(), q.copy()
        nz[cols], sum_z[cols], sumsq_z[cols] = 0, 0.0, 0.0
        for r in range(0, n, step):
            sub = x[r : r + step, cols]
            if divide is not None:
                sub /= divide[cols]
            mask = np.abs(sub) > EPS
            z = np.where(mask, sub, 0.0)
            nz[cols] += np.count_nonzero(mask, axis=0)
            sum_z[cols] += z.sum(axis=0)
            sumsq_z[cols] += np.einsum("ij,ij->j", z, z)
    return {
        "n": n,
        "mean": mean,
        "m2": m2,
        "sum": s,
        "sum_z": sum_z,
        "sumsq_z": sumsq_z,
        "nz": nz,
        "min": lo,
        "max": hi,
    }
