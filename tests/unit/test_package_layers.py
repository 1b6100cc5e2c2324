"""The packages of src/trainforge form layers: no import cycle between two top-level packages.

A cycle (``jobs`` imports ``hpo`` and ``hpo`` imports ``jobs``) means neither can be read, tested or replaced
without the other; a newcomer following one job climbs back up the layers. Every import counts, those inside
functions and under ``TYPE_CHECKING`` too: a deferred import hides a cycle, it does not remove it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import trainforge

ROOT = Path(trainforge.__file__).parent


def top_level(module: str) -> str | None:
    """``trainforge.jobs.worker`` -> ``jobs``; None for a module outside trainforge."""
    parts = module.split(".")
    return parts[1] if parts[0] == "trainforge" and len(parts) > 1 else None


def import_graph() -> dict[str, dict[str, list[str]]]:
    """Top-level package -> the top-level packages it imports -> the files that import them."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        source = relative.parts[0].removesuffix(".py")
        package = ["trainforge", *relative.with_suffix("").parts]
        if relative.name == "__init__.py":
            package = package[:-1]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolved against the importing module's package
                    base = package[: len(package) - node.level + (relative.name == "__init__.py")]
                    modules = [".".join([*base, node.module] if node.module else base)]
                else:
                    modules = [node.module or ""]
            else:
                continue
            for module in modules:
                target = top_level(module)
                if target is not None and target != source:
                    graph[source][target].append(str(relative))
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Every strongly connected group of more than one package (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_top_level_packages():
    graph = import_graph()
    problems = []
    for group in cycles(graph):
        edges = [f"  {a} -> {b}: {', '.join(sorted(set(graph[a][b])))}" for a in group for b in group if b in graph[a]]
        problems.append(f"cycle between {', '.join(group)}:\n" + "\n".join(edges))
    assert not problems, "\n".join(problems)


def test_the_cycle_check_finds_a_cycle():
    # The check itself must be able to fail: a made-up graph with jobs -> hpo -> jobs is one cycle.
    graph = {"jobs": {"hpo": ["jobs/worker.py"]}, "hpo": {"jobs": ["hpo/store.py"]}, "api": {"jobs": ["x.py"]}}
    assert cycles(graph) == [["hpo", "jobs"]]


def test_the_engine_knows_no_kind():
    # jobs/ is the generic engine: what a job does lives in kinds/, above it, and below it nothing of the kinds.
    graph = import_graph()
    assert not {"hpo", "kinds", "registry", "tracking", "compute", "submission", "pipeline"} & set(graph["jobs"])
