"""No import cycle anywhere in ``rdt_tui/`` (DESIGN.md, "Direction of imports").

The imports are read from the source with ``ast``, every one of them: at the top of a module,
inside a function (the lazy imports that keep start-up light), under ``TYPE_CHECKING``. A
lazy import closes a cycle as surely as a top-level one; it only hides it until the day
someone moves it up. A cycle is reported as the modules it goes through, in order.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "rdt_tui"

# Cycles tolerated while a branch removes them, each as the set of modules of one strongly
# connected part of the graph; none is left. A cycle outside these sets fails the test, and so
# does a listed set that no longer holds a cycle (take it out).
KNOWN_CYCLES: set[frozenset[str]] = set()


def module_files(root: str) -> dict[str, str]:
    """Every module under ``root`` (a package directory) by dotted name: path."""
    base = os.path.dirname(root)
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            dotted = os.path.relpath(path, base)[: -len(".py")].replace(os.sep, ".")
            if dotted.endswith(".__init__"):
                dotted = dotted[: -len(".__init__")]
            found[dotted] = path
    return found


def imports_of(module: str, path: str, known: Iterable[str]) -> set[str]:
    """The modules of the package that ``module`` imports, anywhere in its source.

    ``from X import name`` is an import of ``X.name`` when that is a module, else of ``X``.
    The parent packages Python runs first are not counted: a package importing its own
    submodules is not a cycle."""
    modules = set(known)
    is_package = os.path.basename(path) == "__init__.py"
    here = module.split(".") if is_package else module.split(".")[:-1]
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            # `import a.b.c` names a module; keep the longest prefix that is one of ours.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module:
                out.add(target)
    return out


def import_graph(root: str) -> dict[str, set[str]]:
    files = module_files(root)
    return {m: imports_of(m, p, files) for m, p in files.items()}


def strong_parts(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected parts of ``graph`` with more than one module (Tarjan): every
    module of a part reaches every other, so each part holds at least one cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    parts: list[set[str]] = []

    def visit(v: str) -> None:
        # Iterative (the graph is a few hundred modules, but recursion depth is no one's
        # business in a test): each frame is a node and the iterator over its edges.
        work = [(v, iter(sorted(graph[v])))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        while work:
            node, edges = work[-1]
            for w in edges:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    part = set()
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        part.add(w)
                        if w == node:
                            break
                    if len(part) > 1:
                        parts.append(part)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return parts


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected part of ``graph``, as the modules in import
    order with the first repeated at the end; sorted, so reports are stable."""
    return sorted((_cycle_in(graph, part) for part in strong_parts(graph)), key=lambda c: c[0])


def _cycle_in(graph: dict[str, set[str]], part: set[str]) -> list[str]:
    """A shortest cycle through the first (sorted) module of a strongly connected ``part``."""
    start = min(part)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & part):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{sorted(part)} is not strongly connected")


def _describe(cycle: list[str]) -> str:
    return " -> ".join(cycle)


def test_no_import_cycle_in_the_package() -> None:
    graph = import_graph(os.path.join(REPO, PACKAGE))
    assert len(graph) > 100, "the package's modules were not found"
    parts = strong_parts(graph)
    # A known part that shrank (one of its cycles gone) is progress, not a failure.
    new = [p for p in parts if not any(p <= known for known in KNOWN_CYCLES)]
    assert not new, "import cycles:\n" + "\n".join(
        _describe(_cycle_in(graph, p)) for p in sorted(new, key=min)
    )
    gone = [known for known in KNOWN_CYCLES if not any(p <= known for p in parts)]
    assert not gone, (
        "listed in KNOWN_CYCLES but no longer a cycle (take them out of the set): "
        + "; ".join(", ".join(sorted(c)) for c in gone)
    )


def test_the_cli_package_is_no_circle() -> None:
    """Subcommand modules import ``rdt_tui.cli.common``, never the package: the package
    imports them all, so one arrow back would be a cycle, however lazy."""
    graph = import_graph(os.path.join(REPO, PACKAGE))
    back = sorted(
        m
        for m, deps in graph.items()
        if m.startswith("rdt_tui.cli.") and m != "rdt_tui.cli.__main__" and "rdt_tui.cli" in deps
    )
    assert back == [], f"these import the rdt_tui.cli package: {back}"
    assert "rdt_tui.cli.common" in graph["rdt_tui.cli.runs"]  # the graph reads the package


def _write(root: str, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # a lazy import inside a function closes the cycle as well as a top-level one
        (
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "from .b import x\n",
                "pkg/b.py": "def f():\n    from . import a\n",
            },
            [["pkg.a", "pkg.b", "pkg.a"]],
        ),
        # absolute, `from pkg.sub import module`, and through three modules
        (
            {
                "pkg/__init__.py": "",
                "pkg/sub/__init__.py": "",
                "pkg/sub/one.py": "import pkg.sub.two\n",
                "pkg/sub/two.py": "from pkg.sub import three\n",
                "pkg/sub/three.py": "from ..sub.one import name\n",
            },
            [["pkg.sub.one", "pkg.sub.two", "pkg.sub.three", "pkg.sub.one"]],
        ),
        # a package importing its submodules, which import a sibling: no cycle
        (
            {
                "pkg/__init__.py": "from . import a, b\n",
                "pkg/a.py": "from .b import y\n",
                "pkg/b.py": "import os\n",
            },
            [],
        ),
        # a submodule importing its package that imports it back: a cycle
        (
            {
                "pkg/__init__.py": "from .a import main\n",
                "pkg/a.py": "def main():\n    from pkg import helper\n",
            },
            [["pkg", "pkg.a", "pkg"]],
        ),
    ],
)
def test_cycles_are_found_and_named(
    tmp_path: os.PathLike[str], files: dict[str, str], expected: list[list[str]]
) -> None:
    _write(str(tmp_path), files)
    assert cycles(import_graph(os.path.join(str(tmp_path), "pkg"))) == expected
