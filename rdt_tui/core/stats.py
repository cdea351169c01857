"""RDT-style dataset statistics: the sanity rules, placement into the state vector, and the
change a recomputation makes to a statistics file.

A statistics file (RDT's ``configs/dataset_stat.json``) maps dataset names to entries with
``dataset_name`` and ``state_mean``, ``state_std``, ``state_min``, ``state_max`` (lists of
``state_dim`` floats, 128 for RDT); some projects add ``action_*`` lists, checked alike.
"""

import json
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

STAT_KEYS = ("state_mean", "state_std", "state_min", "state_max")
STD_NORMAL = (0.01, 10.0)  # the seed projects' rule of thumb
STD_BUG = 100.0


def parse_stats(text: str) -> Tuple[Optional[Dict[str, Any]], str]:
    """The document, or None and why it does not parse (truncated JSON, not an object)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return None, f"not valid JSON ({exc})"
    if not isinstance(doc, dict):
        return None, "not a JSON object of dataset entries"
    return doc, ""


def _floats(values: Any) -> Optional[List[float]]:
    if not isinstance(values, list):
        return None
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        out.append(float(v))
    return out


def check_entry(entry: Any, state_dim: int) -> Tuple[str, List[str]]:
    """(status, problems) of one entry: ``fail`` for what breaks or silently poisons training
    (missing key, wrong length, NaN/Inf, std <= 0 or > 100 on a used dimension, min > mean >
    max), ``warn`` for a std outside 0.01..10 on a used dimension, else ``pass``."""
    if not isinstance(entry, dict):
        return "fail", ["the entry is not an object"]
    fails: List[str] = []
    warns: List[str] = []
    keys = list(STAT_KEYS) + sorted(
        k for k in entry if k.startswith("action_") and isinstance(entry[k], list)
    )
    vectors: Dict[str, List[float]] = {}
    for key in keys:
        values = _floats(entry.get(key))
        if values is None:
            fails.append(f"{key} is missing or not a list of numbers")
            continue
        if len(values) != state_dim and key in STAT_KEYS:
            fails.append(f"{key} has {len(values)} values, not {state_dim}")
        bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
        if bad:
            fails.append(f"{key} is NaN or Inf at dimension {_dims(bad)}")
        vectors[key] = values
    for prefix in ("state", "action"):
        mean, std = vectors.get(prefix + "_mean"), vectors.get(prefix + "_std")
        lo, hi = vectors.get(prefix + "_min"), vectors.get(prefix + "_max")
        if not (mean and std and lo and hi) or len({len(mean), len(std), len(lo), len(hi)}) > 1:
            continue
        used = [i for i in range(len(mean)) if mean[i] or lo[i] or hi[i] or std[i]]
        order = [i for i in used if not lo[i] <= mean[i] <= hi[i]]
        if order:
            fails.append(f"{prefix}: min <= mean <= max fails at dimension {_dims(order)}")
        varying = [i for i in used if hi[i] > lo[i]]
        zero = [i for i in varying if not std[i] > 0]
        huge = [i for i in used if std[i] > STD_BUG]
        odd = [i for i in varying if std[i] > 0 and not STD_NORMAL[0] <= std[i] <= STD_NORMAL[1]]
        if zero:
            fails.append(f"{prefix}_std is 0 where values vary, dimension {_dims(zero)}")
        if huge:
            fails.append(
                f"{prefix}_std above {STD_BUG} (a bug, not data) at dimension {_dims(huge)}"
            )
        odd = [i for i in odd if i not in huge]
        if odd:
            warns.append(
                f"{prefix}_std outside {STD_NORMAL[0]}..{STD_NORMAL[1]} at dimension {_dims(odd)}"
            )
    if fails:
        return "fail", fails + warns
    return ("warn", warns) if warns else ("pass", [])


def _dims(indices: Sequence[int], shown: int = 6) -> str:
    text = ", ".join(str(i) for i in indices[:shown])
    return text + (f" (+{len(indices) - shown} more)" if len(indices) > shown else "")


def place(
    values: Sequence[float], state_dim: int, index_map: Optional[Sequence[int]] = None
) -> List[float]:
    """A vector of ``state_dim`` with ``values`` at ``index_map`` (or the first dimensions);
    the rest 0, like RDT's ``fill_in_state``."""
    out = [0.0] * state_dim
    targets = list(index_map) if index_map else list(range(len(values)))
    if len(targets) != len(values):
        raise ValueError(f"the index map has {len(targets)} entries for {len(values)} dimensions")
    for target, value in zip(targets, values):
        if not 0 <= target < state_dim:
            raise ValueError(f"index {target} is outside the {state_dim}-dim state")
        out[target] = float(value)
    return out


def make_entry(
    name: str,
    computed: Dict[str, Any],
    method: str,
    state_dim: int,
    index_map: Optional[Sequence[int]] = None,
) -> Dict[str, Any]:
    std = computed["std_rdt" if method == "rdt" else "std_plain"]
    return {
        "dataset_name": name,
        "state_mean": place(computed["mean"], state_dim, index_map),
        "state_std": place(std, state_dim, index_map),
        "state_min": place(computed["min"], state_dim, index_map),
        "state_max": place(computed["max"], state_dim, index_map),
    }


def encodable(value: Any) -> Any:
    """``value`` with every NaN and Inf made ``None`` (JSON null): what a statistics script
    wrote goes back on the wire, which carries no NaN; the problems name those dimensions."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): encodable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encodable(v) for v in value]
    return value


def entry_changes(old: Any, new: Dict[str, Any], tolerance: float = 1e-9) -> List[str]:
    """What replacing ``old`` by ``new`` changes, one line per key (for the diff shown)."""
    if not isinstance(old, dict):
        return ["new entry {!r}".format(new.get("dataset_name"))]
    lines = []
    for key in STAT_KEYS:
        a, b = _floats(old.get(key)), _floats(new.get(key))
        if b is None:
            lines.append(f"{key}: missing or not numbers in the new entry")
            continue
        if a is None or len(a) != len(b):
            lines.append("{}: replaced (was {})".format(key, "invalid" if a is None else len(a)))
            continue
        changed = [
            i
            for i, (x, y) in enumerate(zip(a, b))
            if not (math.isfinite(x) and abs(x - y) <= tolerance * max(1.0, abs(y)))
        ]
        if changed:
            gaps = [
                abs(a[i] - b[i]) if math.isfinite(a[i]) and math.isfinite(b[i]) else math.inf
                for i in changed
            ]
            w = changed[gaps.index(max(gaps))]
            lines.append(f"{key}: {len(changed)} dims change, e.g. [{w}] {a[w]:.6g} -> {b[w]:.6g}")
    return lines or ["no change"]
