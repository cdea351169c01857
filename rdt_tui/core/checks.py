"""A preflight check as the checklist shows it, and the statuses it can have."""

from typing import Any, Dict, List, Optional

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"


def check(
    cid: str, title: str, status: str, detail: str, hint: str = "", fix: Optional[Dict] = None
) -> Dict[str, Any]:
    out: Dict[str, Any] = {"id": cid, "title": title, "status": status, "detail": detail}
    out["hint"] = hint
    if fix:
        out["fix"] = fix
    return out


def summary(checks: List[Dict[str, Any]]) -> Dict[str, int]:
    counts = {PASS: 0, WARN: 0, FAIL: 0, SKIP: 0}
    for c in checks:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    return counts
