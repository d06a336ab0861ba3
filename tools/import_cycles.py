"""Import graph of a Python package and the cycles in it.

    python tools/import_cycles.py [--root src/paperfeed] [--edges] [--exclude PREFIX ...]

Reads every module of the package with ``ast`` (nothing is imported) and records, per import,
its kind:
- ``module``: runs when the module is imported (top level, class bodies, top-level if/try);
- ``function``: inside a function or method body, so it runs on the first call;
- ``typing``: under ``if TYPE_CHECKING:``, never at run time.
An import of ``a.b.c`` also runs the ``__init__`` of ``a`` and ``a.b``, so it adds an edge to each
of those packages too (marked ``via __init__``), except to the importer's own enclosing packages,
which are already being imported when it runs.

Cycles are reported twice, as strongly connected components with every simple cycle in them (up
to ``--max-cycles`` per component, shortest first):
1. over module-level edges only: these can fail at import time (a partially initialised module);
2. over module-level and function-level edges together, for the cycles that need a function-level
   edge: they import fine, but show two layers that each reach into the other.
``--exclude storage web`` (package-relative prefixes, e.g. ``cli`` matches ``cli_daily``) drops
cycles that pass through those modules from the report. Exit status 1 when a module-level cycle
is reported, else 0.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    kind: str  # "module", "function" or "typing"
    line: int
    via_init: bool = False


def module_names(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the package directory ``root``."""
    package = root.name
    modules: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join([package, *parts])] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement of a module with its kind."""
    found: list[tuple[ast.Import | ast.ImportFrom, str]] = []

    def visit(node: ast.AST, kind: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append((child, kind))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, "function" if kind != "typing" else kind)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for statement in child.body:
                    visit(ast.Module(body=[statement], type_ignores=[]), "typing")
                for statement in child.orelse:
                    visit(ast.Module(body=[statement], type_ignores=[]), kind)
            else:
                visit(child, kind)

    visit(tree, "module")
    return found


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def build_graph(root: Path) -> tuple[dict[str, Path], list[Edge]]:
    modules = module_names(root)
    edges: list[Edge] = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, kind in _imports(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base_parts = name.split(".") if is_package else name.split(".")[:-1]
                    if node.level > 1:
                        base_parts = base_parts[:len(base_parts) - (node.level - 1)]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    targets.append(candidate if candidate in modules else base)
            for target in targets:
                # "import a.b.c" where only a.b is ours still reaches a.b
                while target and target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target not in modules or target == name:
                    continue
                edges.append(Edge(name, target, kind, node.lineno))
                own = set(_ancestors(name)) | ({name} if is_package else set())
                for package in _ancestors(target):
                    if package in modules and package not in own and package != name:
                        edges.append(Edge(name, package, kind, node.lineno, via_init=True))
    return modules, edges


def strongly_connected(nodes: list[str], graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one module (or a self-loop)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    components.append(sorted(component))
    return components


def simple_cycles(component: list[str], graph: dict[str, set[str]], limit: int) -> list[list[str]]:
    """Simple cycles inside one component, each starting at its smallest module, shortest first."""
    members = set(component)
    cycles: list[list[str]] = []
    for start in component:
        allowed = {m for m in members if m >= start}
        path = [start]

        def walk(node: str) -> None:
            if len(cycles) >= limit * 4:
                return
            for child in sorted(graph.get(node, ()) & allowed):
                if child == start:
                    cycles.append(list(path))
                elif child not in path:
                    path.append(child)
                    walk(child)
                    path.pop()

        walk(start)
    cycles.sort(key=lambda cycle: (len(cycle), cycle))
    return cycles[:limit]


def _short(name: str, package: str) -> str:
    return name[len(package) + 1:] if name.startswith(package + ".") else name


def report(root: Path, excludes: list[str], show_edges: bool, limit: int) -> int:
    modules, edges = build_graph(root)
    package = root.name
    by_pair: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for edge in edges:
        by_pair[(edge.source, edge.target)].append(edge)

    def excluded(name: str) -> bool:
        short = _short(name, package)
        return any(short == prefix or short.startswith(prefix) for prefix in excludes)

    def graph_of(kinds: set[str]) -> dict[str, set[str]]:
        graph: dict[str, set[str]] = defaultdict(set)
        for edge in edges:
            if edge.kind in kinds:
                graph[edge.source].add(edge.target)
        return graph

    def describe(source: str, target: str, kinds: set[str]) -> str:
        found = [e for e in by_pair[(source, target)] if e.kind in kinds]
        best = sorted(found, key=lambda e: (e.kind != "module", e.via_init, e.line))[0]
        via = ", via __init__" if best.via_init else ""
        return f"{_short(source, package)} -> {_short(target, package)} ({best.kind}, line {best.line}{via})"

    if show_edges:
        print(f"# import edges of {package} ({len(modules)} modules)")
        for kind in ("module", "function", "typing"):
            print(f"\n## {kind}-level")
            for edge in sorted((e for e in edges if e.kind == kind and not e.via_init),
                               key=lambda e: (e.source, e.target, e.line)):
                print(f"  {_short(edge.source, package)} -> {_short(edge.target, package)}  (line {edge.line})")
        print()

    status = 0
    seen: set[tuple[str, ...]] = set()
    for title, kinds in (("module-level imports (can fail at import time)", {"module"}),
                         ("module- and function-level imports (layering; import works)", {"module", "function"})):
        graph = graph_of(kinds)
        components = strongly_connected(sorted(modules), graph)
        print(f"# cycles over {title}")
        shown = 0
        for component in components:
            cycles = [c for c in simple_cycles(component, graph, limit)
                      if tuple(c) not in seen and not any(excluded(m) for m in c)]
            if not cycles:
                continue
            shown += 1
            print(f"\ncomponent: {', '.join(_short(m, package) for m in component)}")
            for cycle in cycles:
                seen.add(tuple(cycle))
                print("  cycle: " + " -> ".join(_short(m, package) for m in [*cycle, cycle[0]]))
                for source, target in zip(cycle, [*cycle[1:], cycle[0]]):
                    print("    " + describe(source, target, kinds))
            if kinds == {"module"}:
                status = 1
        if not shown:
            print("  none" + (f" (outside {', '.join(excludes)})" if excludes else ""))
        print()
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent / "src" / "paperfeed",
                        help="the package directory (default: src/paperfeed)")
    parser.add_argument("--exclude", nargs="*", default=[], metavar="PREFIX",
                        help="leave out cycles through modules whose package-relative name starts with PREFIX")
    parser.add_argument("--edges", action="store_true", help="also list every import edge")
    parser.add_argument("--max-cycles", type=int, default=20, help="simple cycles shown per component")
    args = parser.parse_args(argv)
    return report(args.root.resolve(), args.exclude, args.edges, args.max_cycles)


if __name__ == "__main__":
    sys.exit(main())
