"""Compare two dataset manifests (local and remote): which files are missing on the node,
extra on it, or different (size or MD5)."""

from typing import Any, Dict, List, Mapping


def diff_manifests(local: Mapping[str, Any], remote: Mapping[str, Any]) -> Dict[str, List[str]]:
    lf, rf = local.get("files") or {}, remote.get("files") or {}
    different = []
    unreadable = []
    for name in sorted(set(lf) & set(rf)):
        a, b = lf[name], rf[name]
        if "error" in a or "error" in b:
            unreadable.append(name)
        elif a.get("size") != b.get("size") or a.get("md5") != b.get("md5"):
            different.append(name)
    return {
        "missing": sorted(set(lf) - set(rf)),
        "extra": sorted(set(rf) - set(lf)),
        "different": different,
        "unreadable": unreadable,
        "same": [n for n in sorted(set(lf) & set(rf)) if n not in different + unreadable],
    }
