"""Print the import graph between coresnap's packages, and what breaks its layering.

    python tools/import_graph.py [--modules] [--why] [--check]

A package is a directory under coresnap/; the top-level modules (``errors``, ``config``,
``coresnap`` for ``__init__``) are one node each. Every ``import`` counts, also those inside
functions: a lazy import is still a dependency (not one under ``if TYPE_CHECKING:``). :data:`LAYERS` orders the packages from the
bottom up, as a crash travels (the core reader, the unwinder, the spool and the capture, the
analysis, the snapshot that runs it, the host daemon, the store, the entry points): a package
imports only packages below it. ``--why`` names the imports behind each edge, ``--modules``
prints the module-level cycles; ``--check`` exits 1 on a cycle (between packages or modules) or
an import of a package above (or beside and unlisted).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "coresnap"
# Sub-packages that are rooms of their own, not a part of their parent.
_OWN_NODES: tuple[str, ...] = ()
# Bottom first; each package may import those before it only.
LAYERS = ("coresnap", "errors", "timetext", "config", "querylang", "corefile", "unwind", "spool",
          "capture", "analysis", "snapshot", "kernel", "daemon", "store", "client", "deploy",
          "cli")  # fmt: skip


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    # Imports under ``if TYPE_CHECKING:`` are for annotations only: no dependency at run time.
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                # ``from pkg import mod`` depends on the module pkg.mod when there is one,
                # on pkg itself for any other name.
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    return {name for name in found if name == "coresnap" or name.startswith("coresnap.")}


def modules() -> dict[str, set[str]]:
    """Each coresnap module, and the coresnap modules it imports."""
    paths = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        graph[name] = {t for t in _imports(path, name, set(paths)) if t in paths and t != name}
    return graph


def node(module: str) -> str:
    """The package a module belongs to, as a node of the package graph."""
    parts = module.split(".")[1:]
    if not parts:
        return "coresnap"
    dotted = ".".join(parts)
    for own in _OWN_NODES:
        if dotted == own or dotted.startswith(own + "."):
            return own
    return parts[0]


def packages(graph: dict[str, set[str]]) -> dict[str, dict[str, set[str]]]:
    """Each package, the packages it imports, and through which of its modules."""
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for module, targets in graph.items():
        out[node(module)]
        for target in targets:
            if node(target) != node(module):
                out[node(module)][node(target)].add(f"{module} -> {target}")
    return {k: dict(v) for k, v in out.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def upward_imports(pkg: dict[str, set[str]]) -> list[tuple[str, str]]:
    """``(package, imported)`` pairs where the imported package is not below it in LAYERS."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    return [(s, t) for s in sorted(pkg) for t in sorted(pkg[s])
            if rank.get(t, len(LAYERS)) >= rank.get(s, -1)]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", action="store_true", help="print module-level cycles too")
    parser.add_argument("--why", action="store_true", help="name the imports behind each edge")
    parser.add_argument("--check", action="store_true", help="exit 1 on any cycle")
    args = parser.parse_args(argv)
    graph = modules()
    pkg = packages(graph)
    for name in sorted(pkg):
        print(f"{name:16} -> {', '.join(sorted(pkg[name])) or '-'}")
        if args.why:
            for target in sorted(pkg[name]):
                for edge in sorted(pkg[name][target]):
                    print(f"{'':19}{edge}")
    pkg_cycles = cycles({k: set(v) for k, v in pkg.items()})
    print(f"\npackage cycles: {len(pkg_cycles)}")
    for c in pkg_cycles:
        print("  " + " <-> ".join(c))
    upward = upward_imports({k: set(v) for k, v in pkg.items()})
    print(f"imports of a package above (LAYERS): {len(upward)}")
    for source, target in upward:
        print(f"  {source} -> {target}: " + "; ".join(sorted(pkg[source][target])))
    mod_cycles = cycles(graph)
    print(f"module cycles: {len(mod_cycles)}")
    if args.modules:
        for c in mod_cycles:
            print("  " + " <-> ".join(c))
    return 1 if args.check and (pkg_cycles or upward or mod_cycles) else 0


if __name__ == "__main__":
    sys.exit(main())
