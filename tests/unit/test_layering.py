"""The package's layering, read from the source: every ``import`` counts, also those inside functions and
under ``TYPE_CHECKING`` (a lazy import hides a cycle from Python, not from the design)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[2] / "citegraph"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> nx.DiGraph:
    """citegraph module -> citegraph modules it imports (``from pkg import name`` counts as
    ``pkg.name`` when that is a module, else as ``pkg``)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                ]
            for target in targets:
                if target.startswith("citegraph") and target in modules and target != name:
                    graph.add_edge(name, target)
    return graph


def test_no_import_cycles_even_through_lazy_imports() -> None:
    cycles = list(nx.simple_cycles(import_graph()))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join([*c, c[0]]) for c in cycles[:10])


def test_ingest_and_retrieval_never_import_agents_or_graphs() -> None:
    graph = import_graph()
    wrong = [
        (a, b)
        for a, b in graph.edges
        if a.startswith(("citegraph.ingest", "citegraph.retrieval"))
        and b.startswith(("citegraph.agents", "citegraph.graphs"))
    ]
    assert not wrong, wrong


def test_graph_modules_only_wire() -> None:
    """A graph file defines no node logic: its functions build or compile graphs."""
    for path in (PACKAGE / "graphs").glob("*.py"):
        tree = ast.parse(path.read_text())
        functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        assert all(f.startswith(("build_", "compile_", "add_")) for f in functions), (path.name, functions)
        nested = [
            n.name
            for f in tree.body
            if isinstance(f, ast.FunctionDef)
            for n in ast.walk(f)
            if isinstance(n, ast.FunctionDef | ast.Lambda) and n is not f and hasattr(n, "name")
        ]
        assert not nested, (path.name, nested)
