"""No module of rdt_tui/ grows past about 400 lines (STYLE.md, "Not to copy"): the guard allows
some slack (MAX_LINES) so a module near the mark is not split for a line or two, and names every
module over it, with its length, so the split is made where the code grew."""

from __future__ import annotations

import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_LINES = 420


def module_lengths(root: str) -> dict[str, int]:
    """Lines of every ``.py`` file under ``root``, by path relative to the repository."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as fh:
                    out[os.path.relpath(path, REPO)] = sum(1 for _ in fh)
    return out


def test_no_module_is_over_about_400_lines() -> None:
    lengths = module_lengths(os.path.join(REPO, "rdt_tui"))
    assert len(lengths) > 50  # the walk found the package
    long = sorted((n, p) for p, n in lengths.items() if n > MAX_LINES)
    assert long == [], f"modules over {MAX_LINES} lines (split them by what they hold):\n" + (
        "\n".join(f"{p}: {n} lines" for n, p in long)
    )


def test_the_guard_counts_lines_in_subpackages(workdir: str) -> None:
    root = os.path.join(workdir, "pkg")
    os.makedirs(os.path.join(root, "sub"))
    with open(os.path.join(root, "sub", "big.py"), "w") as fh:
        fh.write("x = 1\n" * (MAX_LINES + 1))
    with open(os.path.join(root, "small.py"), "w") as fh:
        fh.write("x = 1\n" * MAX_LINES)
    lengths = module_lengths(root)
    assert sorted(lengths.values()) == [MAX_LINES, MAX_LINES + 1]
    over = [p for p, n in lengths.items() if n > MAX_LINES]
    assert len(over) == 1 and over[0].endswith(os.path.join("sub", "big.py"))
