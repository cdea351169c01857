"""The preflight check under the cursor, in full: the checklist's columns are too narrow for a
hint or a path, so a pane under the table shows the detail, the hint and the fix (or what to
do by hand when there is no automatic fix)."""

from __future__ import annotations

from typing import Any

from rich.text import Text


def by_hand(check: dict[str, Any]) -> str:
    """What a user does about a check that has no automatic fix."""
    hint = (check.get("hint") or "").strip()
    if hint:
        return f"no automatic fix; by hand: {hint}"
    return (
        "no automatic fix; fix it by hand on the host (the detail says what is wrong), "
        "then p checks again"
    )


def check_text(check: dict[str, Any]) -> Text:
    """The highlighted check in full, for the pane under the checklist: the table's columns
    are too narrow for a hint or a path."""
    text = Text()
    text.append(f"{check['status'].upper()}  {check['title']}\n", style="bold")
    text.append(str(check.get("detail") or "") + "\n")
    if check["status"] in ("pass", "skip"):
        if check.get("hint"):
            text.append(f"hint: {check['hint']}\n")
    elif check.get("fix"):
        if check.get("hint"):
            text.append(f"hint: {check['hint']}\n")
        text.append(f"fix (f): {check['fix']['label']}\n")
    else:
        text.append(by_hand(check) + "\n")
    text.rstrip()
    return text
