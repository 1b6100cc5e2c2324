"""The schedules package: its public surface, and its place above the packages it builds on."""

from __future__ import annotations

import ast
from pathlib import Path

import trainforge
import trainforge.schedules

SOURCE = Path(trainforge.__file__).parent
# The packages a schedule queues its jobs through, and what they run; none of them may know about schedules.
BELOW = ("jobs", "hpo", "pipeline", "models", "registry", "tracking")


def test_public_surface_is_pinned():
    assert sorted(trainforge.schedules.__all__) == [
        "CronSchedule",
        "Firing",
        "ScheduleRecord",
        "ScheduleRequest",
        "ScheduleStatus",
        "ScheduleStore",
        "Scheduler",
        "create_schedule",
        "job_for",
        "start_recurring_job",
    ]


def top_level_imports(path: Path) -> set[str]:
    """The trainforge packages (or top-level modules) a source file imports, function-level imports included."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module == "trainforge":  # from trainforge import schedules
            names = [f"trainforge.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        else:
            continue
        imported |= {name.split(".")[1] for name in names if name.startswith("trainforge.")}
    return imported


def package_imports() -> dict[str, set[str]]:
    """For each top-level package (or module) of trainforge, the other ones it imports."""
    graph: dict[str, set[str]] = {}
    for path in SOURCE.rglob("*.py"):
        owner = path.relative_to(SOURCE).parts[0].removesuffix(".py")
        graph.setdefault(owner, set()).update(top_level_imports(path) - {owner})
    return graph


def test_nothing_that_schedules_builds_on_imports_it():
    graph = package_imports()
    # Below schedules: the packages named, what schedules imports, and whatever those import in turn.
    below: set[str] = set()
    todo = [*BELOW, *graph["schedules"]]
    while todo:
        package = todo.pop()
        if package not in below:
            below.add(package)
            todo.extend(graph.get(package, ()))
    assert below >= {"jobs", "hpo", "db", "errors", "features", "names"}
    assert sorted(package for package in below if "schedules" in graph.get(package, ())) == []
