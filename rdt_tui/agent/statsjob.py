"""Dataset statistics from HDF5 episodes, as RDT's ``state_mean/std/min/max`` vectors.

Run by the agent as a child process with the *training* interpreter (which has numpy and
h5py; the agent itself has neither): it reads the request as JSON on stdin and prints one
JSON object. Rows are read in blocks of about 16 MiB (whole HDF5 chunks, ``statsread.py``),
so memory does not grow with the dataset; each block is summarised by six numpy reductions
per cache-sized sub-block (``statsfused.py``), shared with a second thread where there are
two cores, and the summaries are merged in order.

Two standard deviations are computed in the same pass:

- ``plain``: the population std, sqrt(sum((x - mean)^2) / N), merged chunk by chunk (Chan);
- ``rdt``: RDT's ``compute_dataset_stat_hdf5.py``: entries with |x| <= 1e-8 count as zero,
  ``nz`` is the per-dimension count of the others (at least 1), and
  std = sqrt(max(sum(z^2)/nz - (sum(z)/N)^2 * N/nz, 0)), so all-zero dimensions get 0.

Keys name datasets inside each file, ``/``-separated; a ``*`` component matches every group
at that level (LIBERO: ``data/*/obs/joint_states``), each match an episode. Several keys are
concatenated along the last axis (e.g. joint and gripper states). ``scale`` divides listed
dimensions of that concatenation before anything is computed, as RDT's
``parse_hdf5_file_state_only`` divides the agilex grippers by 4.7908 and 4.7888.

A NaN or Inf in the data is not a statistic: the job fails naming each key and dimension
that holds one (with the first file and row), and computes nothing.
"""

import json
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

from .files import safe_glob
from .statsfused import EPS, Helper, Work, fused_part, piece_rows
from .statsread import StatsError, blocks

WORKERS = min(2, os.cpu_count() or 1)


def _columns(keys: List[str], datasets: List[Any]) -> List[Tuple[str, int]]:
    """(key, dimension within the key) of every column of the concatenated rows."""
    out: List[Tuple[str, int]] = []
    for key, d in zip(keys, datasets):
        width = 1
        for n in d.shape[1:]:
            width *= int(n)
        out.extend((key, j) for j in range(width))
    return out


def _scale_vector(scale: Optional[Dict[Any, float]], width: int, np: Any) -> Any:
    if not scale:
        return None
    vec = np.ones(width)
    for dim, factor in scale.items():
        if not 0 <= int(dim) < width:
            raise StatsError(
                f"stats_scale names dimension {dim}, but the rows have {width} (0..{width - 1})"
            )
        vec[int(dim)] = float(factor)
    return vec


def _note_not_finite(
    bad: Dict[Tuple[str, int], List[Any]],
    finite: Any,
    r0: int,
    columns: List[Tuple[str, int]],
    where: str,
    found_in: Dict[str, str],
    np: Any,
) -> None:
    """Count the non-finite values of one chunk per (key, dimension), keeping the first."""
    for col in np.flatnonzero(~finite.all(axis=0)):
        column = ~finite[:, col]
        key, _ = columns[col]
        first = f"{where} {found_in[key]} row {r0 + int(np.argmax(column))}"
        seen = bad.setdefault(columns[col], [0, first])
        seen[0] += int(column.sum())


def _not_finite_error(bad: Dict[Tuple[str, int], List[Any]]) -> StatsError:
    parts = [
        f"{key} dimension {dim}: {n} value(s), first in {where}"
        for (key, dim), (n, where) in sorted(bad.items())
    ]
    shown = "; ".join(parts[:6]) + (f" (+{len(parts) - 6} more)" if len(parts) > 6 else "")
    return StatsError("the data holds NaN or Inf, so no statistics were computed: " + shown)


def compute(
    directory: str,
    pattern: str,
    keys: List[str],
    chunk_rows: int = 0,
    scale: Optional[Dict[Any, float]] = None,
    workers: int = WORKERS,
) -> Dict[str, Any]:
    import h5py  # noqa: F401  (the training interpreter's: missing, it fails here, clearly)
    import numpy as np

    files = sorted(f for f in safe_glob(directory, "**/" + pattern) if os.path.isfile(f))
    if not files:
        raise StatsError(f"no file in {directory} matches {pattern}")
    if not keys:
        raise StatsError("no dataset keys given (preflight.stats_keys)")
    acc: Optional[Dict[str, Any]] = None
    counts = {"episodes": 0}
    bad: Dict[Tuple[str, int], List[Any]] = {}  # (key, dim) -> [count, first file and row]
    divide: Any = None
    work = Work(np)
    # With two workers, a second thread takes sub-blocks of each block beside this one.
    helper = Helper() if workers > 1 else None
    try:
        for ep, r0, x in blocks(files, keys, chunk_rows, np, counts):
            if divide is None and scale:
                divide = _scale_vector(scale, x.shape[1], np)
            use = divide if divide is not None and divide.shape[0] == x.shape[1] else None
            part = fused_part(x, use, np, work, helper)
            if part is not None:
                acc = _merge(acc, part, np)
                continue
            # The exact path, piece by piece: it finds NaN/Inf and takes overflows.
            step = piece_rows(x.shape[1])
            for p0 in range(0, x.shape[0], step):
                block = x[p0 : p0 + step]
                finite = np.isfinite(block)
                if not finite.all():
                    where = os.path.relpath(ep.path, directory)
                    found_in = dict(zip(keys, ep.parts))
                    columns = _columns(keys, ep.datasets)
                    _note_not_finite(bad, finite, r0 + p0, columns, where, found_in, np)
                    continue
                part = _exact_part(block / use if use is not None else block, np)
                acc = _merge(acc, part, np)
    finally:
        if helper is not None:
            helper.close()
    if bad:
        raise _not_finite_error(bad)
    if acc is None:
        raise StatsError("the datasets hold no rows")
    n = acc["n"]
    mean = acc["sum"] / n
    nz = np.maximum(acc["nz"], 1)
    rdt_var = acc["sumsq_z"] / nz - (acc["sum_z"] / n) ** 2 * (n / nz)
    return {
        "files": len(files),
        "episodes": counts["episodes"],
        "rows": int(n),
        "dims": int(mean.shape[0]),
        "mean": mean.tolist(),
        "std_plain": np.sqrt(np.maximum(acc["m2"] / n, 0)).tolist(),
        "std_rdt": np.sqrt(np.maximum(rdt_var, 0)).tolist(),
        "min": acc["min"].tolist(),
        "max": acc["max"].tolist(),
        "finite": True,  # a NaN or Inf in the data fails the job instead
    }


def _exact_part(x: Any, np: Any) -> Dict[str, Any]:
    """The same sums of one block, entry by entry: entries within EPS of zero masked out.
    The block is transposed once so every reduction runs along contiguous memory."""
    rows = x.shape[0]
    xt = np.ascontiguousarray(x.T)
    mask = np.abs(xt) > EPS
    z = xt if mask.all() else np.where(mask, xt, 0.0)
    total = xt.sum(axis=1)
    chunk_mean = total / rows
    centered = xt - chunk_mean[:, None]
    return {
        "n": rows,
        "mean": chunk_mean,
        "m2": np.einsum("ij,ij->i", centered, centered),
        "sum": total,
        "sum_z": total if z is xt else z.sum(axis=1),
        "sumsq_z": np.einsum("ij,ij->i", z, z),
        "nz": np.count_nonzero(mask, axis=1),
        "min": xt.min(axis=1),
        "max": xt.max(axis=1),
    }


def _merge(acc: Optional[Dict[str, Any]], part: Dict[str, Any], np: Any) -> Dict[str, Any]:
    """Fold one block's summary into the running one."""
    if acc is None:
        return part
    if part["sum"].shape[0] != acc["sum"].shape[0]:
        raise StatsError(
            "episodes differ in width: {} vs {}".format(part["sum"].shape[0], acc["sum"].shape[0])
        )
    n0, rows = acc["n"], part["n"]
    n = n0 + rows
    delta = part["mean"] - acc["mean"]  # Chan et al.: merge two (count, mean, M2) summaries
    acc["m2"] = acc["m2"] + part["m2"] + delta**2 * (n0 * rows / n)
    acc["mean"] = acc["mean"] + delta * (rows / n)
    acc["n"] = n
    for key in ("sum", "sum_z", "sumsq_z", "nz"):
        acc[key] = acc[key] + part[key]
    acc["min"] = np.minimum(acc["min"], part["min"])
    acc["max"] = np.maximum(acc["max"], part["max"])
    return acc


def main() -> None:
    req = json.load(sys.stdin)
    try:
        out = compute(
            req["directory"],
            req.get("pattern") or "*.hdf5",
            list(req.get("keys") or []),
            scale=req.get("scale") or None,
        )
    except StatsError as exc:
        out = {"error": str(exc)}
    except ImportError as exc:
        out = {"error": f"the training interpreter lacks {exc.name} (numpy and h5py are needed)"}
    try:
        text = json.dumps(out, allow_nan=False)  # the agent's reply must stay valid JSON
    except ValueError:
        text = json.dumps({"error": "the statistics came out NaN or Inf"})
    print(text)


if __name__ == "__main__":
    main()
