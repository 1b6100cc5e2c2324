"""The error tree: one module, each error named after what happened, its docstring drawing the tree as it is."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import trainforge.errors as errors
from trainforge.errors import NotFound, RequestTooLarge, TrainforgeError

SOURCE = Path(errors.__file__).parent
TREE_NAMES = {name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, Exception)}


def _error_classes() -> list[type[TrainforgeError]]:
    return [value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, TrainforgeError)]


def _modules():
    for path in sorted(SOURCE.rglob("*.py")):
        if path.name != "errors.py" or path.parent != SOURCE:
            yield path, ast.parse(path.read_text(), filename=str(path))


def _base_name(base: ast.expr) -> str:
    return base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")


def test_no_error_of_the_tree_is_defined_elsewhere():
    """A subclass of the tree, or an HTTPException of our own, outside trainforge.errors is a second tree."""
    elsewhere = [
        f"{path.relative_to(SOURCE)}:{node.lineno} {node.name}"
        for path, module in _modules()
        for node in ast.walk(module)
        if isinstance(node, ast.ClassDef)
        and any(_base_name(base) in TREE_NAMES | {"HTTPException"} for base in node.bases)
    ]
    assert elsewhere == []


def test_nothing_raises_a_bare_not_found():
    """Each missing object has its class (JobNotFound, StudyNotFound, …) naming its field; the bare NotFound is
    left to the translation of an MLflow error that names no object of ours (tracking/mlflow_errors.py)."""
    ad_hoc = [
        f"{path.relative_to(SOURCE)}:{node.lineno}"
        for path, module in _modules()
        if path.name != "mlflow_errors.py"
        for node in ast.walk(module)
        if isinstance(node, ast.Call) and _base_name(node.func) == "NotFound"
    ]
    assert ad_hoc == []


@pytest.mark.parametrize(
    ("error", "field"),
    [
        (errors.JobNotFound("j1"), "job_id"),
        (errors.FeatureSetNotFound("t1", "fs"), "feature_set"),
        (errors.StudyNotFound("s1"), "study_id"),
        (errors.ScheduleNotFound("sc1"), "schedule_id"),
        (errors.WebhookNotFound("w1"), "webhook_id"),
        (errors.ApiKeyNotFound("k1"), "key_id"),
        (errors.ModelVersionNotFound("t1:load:1.0.0"), "model_id"),
        (errors.ModelNotFound("t1", "load"), "model_name"),
        (errors.ModelNotFound("t1", "load", "1.2.0"), "version"),
    ],
)
def test_each_not_found_names_its_field_and_object(error: NotFound, field: str):
    assert isinstance(error, NotFound) and error.http_status == 404
    assert error.field == field
    assert "not found" in error.message


def test_a_body_over_the_limit_is_one_error_of_the_tree():
    error = RequestTooLarge(1024)
    assert (error.http_status, error.field) == (413, "body")
    assert "1024 bytes" in error.message


def _drawn_tree() -> dict[str, str | None]:
    """Each error the module docstring draws, and the one it is drawn under (by indentation)."""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in inspect.getdoc(errors).splitlines():
        name = line.lstrip("│├└─ ").split(" ", 1)[0]
        if name not in TREE_NAMES:
            continue
        depth = line.index(name)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def test_the_docstring_draws_every_error_under_its_parent():
    parents = {cls.__name__: cls.__mro__[1].__name__ for cls in _error_classes()}
    assert _drawn_tree() == {**parents, "TrainforgeError": None}
