"""Hostile input against every training-job route, on SQLite and PostgreSQL: each request is refused with a 4xx
(one the OpenAPI document declares) whose JSON body names the field and the rule, shows no stack trace or SQL, and
leaves the database and the feature store as they were. Afterwards the service still takes a valid request.

One app per backend serves the whole module (a fresh app per case would cost minutes): every case compares its own
before and after snapshots, so a case that wrongly writes fails alone and cannot hide behind another.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from trainforge.api.app import create_app
from trainforge.db.engine import make_engine
from trainforge.db.migrate import upgrade
from trainforge.db.tables import metadata
from trainforge.features.demo_data import generate_demo_load
from trainforge.features.store import ParquetFeatureStore
from trainforge.jobs.store import JobStore
from trainforge.settings import load_settings
from trainforge.tenancy import KeyStore

JOBS = "/ai/training/jobs"
JOB = f"{JOBS}/{{job}}"  # "{job}" is replaced by the id of a queued job of the key's tenant
MAX_REQUEST_BYTES = 1024 * 1024
# What a leaked stack trace or database error would show.
LEAK_MARKERS = ("Traceback", 'File "', "sqlalchemy", "psycopg", "sqlite3", "[SQL:", "INSERT INTO", "UPDATE training")

SQL = ["' OR 1=1 --", '"; DROP TABLE training_jobs; --']
UNICODE = ["\u202eevil\u202c", "\U0001f525\U0001f4a3", "e\u0301\u0301\u0301\u0301", "\ud800", "\ufeff\u200b"]
PATHS = ["../", "../../etc/passwd", "/etc/passwd", "a\x00b", "..", "."]


def valid_body() -> dict[str, Any]:
    return {
        "tenant_id": "t1",
        "model_type": "forecast",
        "model_name": "load_forecast",
        "feature_set": "demo_load",
        "config": {
            "start_date": "2024-01-01T00:00:00Z",
            "end_date": "2024-03-01T00:00:00Z",
            "target_variable": "load_kw",
            "horizon": 24,
            "n_trials": 10,
            "validation_split": 0.2,
            "test_split": 0.1,
            "seasonal_period": 24,
            "features": ["temperature_c"],
            "series": ["site_000"],
            "hyperparams": {"n_estimators": 50, "learning_rate": 0.05},
        },
        "priority": "high",
        "tags": {"team": "grid"},
    }


# -- the cases ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hostile:
    """One hostile request and the refusal it must get."""

    id: str
    method: str
    path: str
    status: int
    field: str | None  # the field the error must name (a prefix: "tags" for "tags.<key>.[key]"); None: no field
    json_text: str | None = None  # sent as raw bytes, so NaN, lone surrogates and the like arrive as written
    content: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str | bytes] = field(default_factory=dict)


def with_key(dotted_parent: str, key: str, value: Any) -> dict[str, Any]:
    """The valid body with ``value`` under ``key`` of the object at ``dotted_parent`` ("" for the top)."""
    body = valid_body()
    target = body
    for name in filter(None, dotted_parent.split(".")):
        target = target[name]
    target[key] = value
    return body


def body_with(dotted: str, value: Any) -> dict[str, Any]:
    """The valid body with ``dotted`` (``config.hyperparams.n_estimators``, ``tags.team``) set to ``value``."""
    parent, _, key = dotted.rpartition(".")
    return with_key(parent, key, value)


def start(id_: str, body: Any, field: str | None, status: int = 422) -> Hostile:
    return Hostile(id_, "POST", f"{JOBS}/start", status, field, json_text=json.dumps(body))


def start_raw(id_: str, dotted: str, literal: str, field: str) -> Hostile:
    """A body whose ``dotted`` value is the raw JSON ``literal`` (NaN, Infinity, 1e999, a 5000-digit integer)."""
    text = json.dumps(body_with(dotted, "__LITERAL__")).replace('"__LITERAL__"', literal)
    return Hostile(id_, "POST", f"{JOBS}/start", 422, field, json_text=text)


# Every string field of the body, and where its refusal points (tag keys are located at "tags.<key>.[key]").
STRING_FIELDS = {
    "tenant_id": "tenant_id",
    "model_type": "model_type",
    "model_name": "model_name",
    "feature_set": "feature_set",
    "schedule": "schedule",
    "priority": "priority",
    "config.start_date": "config.start_date",
    "config.end_date": "config.end_date",
    "config.target_variable": "config.target_variable",
    "config.features": "config.features",
    "config.series": "config.series",
    "tags.team": "tags.team",
}
NUMERIC_FIELDS = [
    "config.horizon",
    "config.n_trials",
    "config.validation_split",
    "config.test_split",
    "config.seasonal_period",
    "priority",
    "config.hyperparams.n_estimators",
    "config.hyperparams.learning_rate",
]


def string_cases(kind: str, values: list[str]) -> Iterator[Hostile]:
    for number, value in enumerate(values):
        for dotted, where in STRING_FIELDS.items():
            item = [value] if dotted in ("config.features", "config.series") else value
            yield start(f"{kind}{number}-{dotted}", body_with(dotted, item), where)
        yield start(f"{kind}{number}-tag-key", with_key("tags", value, "x"), "tags")
        yield start(f"{kind}{number}-hyperparam-name", with_key("config.hyperparams", value, 1), "config.hyperparams")
        # pydantic cannot name a top-level key that is a lone surrogate: it refuses the body as a whole
        yield start(f"{kind}{number}-unknown-field", with_key("", value, 1), "body" if value == "\ud800" else value)


def query_cases(kind: str, values: list[str], *, job_ids: bool = True) -> Iterator[Hostile]:
    for number, value in enumerate(values):
        for name in ("tenant_id", "status", "limit", "page"):
            yield Hostile(f"{kind}{number}-list-{name}", "GET", JOBS, 422, name, params={name: value})
        for name in ("tail", "since"):
            yield Hostile(f"{kind}{number}-logs-{name}", "GET", f"{JOB}/logs", 422, name, params={name: value})
        if not job_ids:
            continue
        job_id = quote(value, safe="", errors="surrogatepass")
        for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/retry"), ("GET", "/logs")):
            yield Hostile(f"{kind}{number}-{method}{suffix}-job_id", method, f"{JOBS}/{job_id}{suffix}", 422, "job_id")


def huge_number_cases() -> Iterator[Hostile]:
    for dotted in NUMERIC_FIELDS:
        for label, value in (("1e30", 10**30), ("2^63", 2**63), ("-2^63-1", -(2**63) - 1), ("1e308", 1e308)):
            yield start(f"huge{label}-{dotted}", body_with(dotted, value), dotted)
        yield start_raw(f"huge5000digits-{dotted}", dotted, "9" * 5000, "body")
    for name, value in (("limit", 10**30), ("page", 2**63), ("limit", -1), ("page", 0), ("limit", 0)):
        yield Hostile(f"huge-list-{name}={value}", "GET", JOBS, 422, name, params={name: str(value)})
    for name, value in (("tail", 10**30), ("since", 2**63), ("tail", 0), ("since", -1)):
        yield Hostile(f"huge-logs-{name}={value}", "GET", f"{JOB}/logs", 422, name, params={name: str(value)})


def non_finite_cases() -> Iterator[Hostile]:
    for literal in ("NaN", "Infinity", "-Infinity", "1e999"):
        for dotted in NUMERIC_FIELDS:
            yield start_raw(f"{literal}-{dotted}", dotted, literal, dotted)
        search_space = f'{{"type": "float", "low": 0.01, "high": {literal}}}'
        yield start_raw(
            f"{literal}-nested-hyperparam", "config.hyperparams.learning_rate", search_space, "config.hyperparams"
        )
        for name in ("limit", "page"):
            yield Hostile(f"{literal}-list-{name}", "GET", JOBS, 422, name, params={name: literal})
        for name in ("tail", "since"):
            yield Hostile(f"{literal}-logs-{name}", "GET", f"{JOB}/logs", 422, name, params={name: literal})


def path_cases() -> Iterator[Hostile]:
    for number, value in enumerate(PATHS):
        for dotted in ("tenant_id", "model_name", "feature_set"):
            yield start(f"path{number}-{dotted}", body_with(dotted, value), dotted)
        search_space = {"type": "categorical", "choices": [value]}
        yield start(
            f"path{number}-in-hyperparam",
            body_with("config.hyperparams.max_depth", search_space),
            "config.hyperparams.max_depth",
        )
        yield Hostile(f"path{number}-list-tenant_id", "GET", JOBS, 422, "tenant_id", params={"tenant_id": value})


def wrong_type_cases() -> Iterator[Hostile]:
    wrong = [
        ("tenant_id", 123),
        ("tenant_id", None),
        ("model_name", ["a"]),
        ("feature_set", {"a": 1}),
        ("config", "fast"),
        ("config", []),
        ("config", None),
        ("config.horizon", "many"),
        ("config.horizon", 1.5),
        ("config.horizon", [24]),
        ("config.enable_hpo", "maybe"),
        ("config.validation_split", "0.2x"),
        ("config.features", "temperature_c"),
        ("config.series", {"a": "b"}),
        ("config.hyperparams", [1, 2]),
        ("config.hyperparams.n_estimators", "many"),
        ("config.hyperparams.n_estimators", True),
        ("config.hyperparams.n_estimators", {"type": "int"}),
        ("priority", 1.5),
        ("priority", []),
        ("priority", True),
        ("tags", ["a"]),
        ("tags.team", 1),
        ("tags.team", None),
        ("schedule", 5),
    ]
    for dotted, value in wrong:
        yield start(f"type-{dotted}={json.dumps(value)}", body_with(dotted, value), dotted)


def date_cases() -> Iterator[Hostile]:
    for dotted in ("config.start_date", "config.end_date"):
        for value in (
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00+14:00",
            "1899-12-31",
            "2024-13-45T00:00:00Z",
            "yesterday",
            "2024-01-01T25:00:00Z",
            "",
        ):
            yield start(f"date-{dotted}={value}", body_with(dotted, value), dotted)
    backwards = body_with("config.start_date", "2024-03-01T00:00:00Z")
    yield start("date-end-before-start", backwards, "config.end_date")


def oversized_cases() -> Iterator[Hostile]:
    cases = [
        ("tags", {f"k{i}": "v" for i in range(51)}, "tags"),
        ("tags.team", "v" * 257, "tags.team"),
        ("tags." + "k" * 65, "v", "tags"),
        ("config.features", ["temperature_c"] * 257, "config.features"),
        ("config.series", ["site_000"] * 10_001, "config.series"),
        ("config.hyperparams", {f"p{i}": 1 for i in range(65)}, "config.hyperparams"),
        ("config.hyperparams." + "p" * 65, 1, "config.hyperparams"),
        ("tenant_id", "t" * 64, "tenant_id"),
        ("model_name", "m" * 129, "model_name"),
        ("feature_set", "f" * 129, "feature_set"),
        ("config.target_variable", "c" * 129, "config.target_variable"),
        ("schedule", "*" * 100_000, "schedule"),
    ]
    for dotted, value, where in cases:
        yield start(f"oversized-{dotted[:20]}", body_with(dotted, value), where)


def body_shape_cases() -> Iterator[Hostile]:
    raw = {
        "empty": b"",
        "not-json": b"tenant_id=t1&model_type=forecast",
        "truncated-json": b'{"tenant_id": "t1", ',
        "json-array": b"[]",
        "json-null": b"null",
        "json-string": b'"start"',
        "json-number": b"42",
        "not-utf8": b'{"tenant_id": "\xff\xfe"}',
        "nested-10000-arrays": b"[" * 10_000 + b"]" * 10_000,
        "nested-10000-objects": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        "nested-in-hyperparams": json.dumps(body_with("config.hyperparams.n_estimators", 1))
        .encode()
        .replace(b'"n_estimators": 1', b'"n_estimators": ' + b"[" * 100 + b"]" * 100),
    }
    for name, content in raw.items():
        where = "config.hyperparams" if name == "nested-in-hyperparams" else "body"
        yield Hostile(
            f"body-{name}",
            "POST",
            f"{JOBS}/start",
            422,
            where,
            content=content,
            headers={"content-type": "application/json"},
        )
    yield Hostile(
        "body-plain-text",
        "POST",
        f"{JOBS}/start",
        422,
        "body",
        content=b"hello",
        headers={"content-type": "text/plain"},
    )


def too_large_cases() -> Iterator[Hostile]:
    ten_mb = b'{"tenant_id": "' + b"a" * (10 * 1024 * 1024) + b'"}'

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body streams in chunks
        for start_ in range(0, len(ten_mb), 64 * 1024):
            yield ten_mb[start_ : start_ + 64 * 1024]

    json_type = {"content-type": "application/json"}
    yield Hostile("10MB-content-length", "POST", f"{JOBS}/start", 413, "body", content=ten_mb, headers=json_type)
    yield Hostile("10MB-chunked", "POST", f"{JOBS}/start", 413, "body", content=chunks, headers=json_type)
    yield Hostile("10MB-to-retry", "POST", f"{JOB}/retry", 413, "body", content=ten_mb, headers=json_type)
    yield Hostile("10MB-to-delete", "DELETE", JOB, 413, "body", content=ten_mb, headers=json_type)


def other_cases() -> Iterator[Hostile]:
    yield Hostile("retry-a-queued-job", "POST", f"{JOB}/retry", 409, "status")
    yield Hostile("another-tenant", "GET", JOBS, 403, "tenant_id", params={"tenant_id": "t2"})
    yield start("another-tenant-start", body_with("tenant_id", "t2"), "tenant_id", status=403)
    yield start("unknown-feature-set", body_with("feature_set", "no_such_set"), "feature_set")
    tokens = [*SQL, "\u202e", "tfk_\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00_s", "tfk_' OR 1=1 --_s"]
    for number, token in enumerate(tokens):
        # As bytes: httpx would refuse to send a non-ASCII header value given as text.
        yield Hostile(f"auth{number}", "GET", JOBS, 401, None, headers={"authorization": f"Bearer {token}".encode()})


CASES = [
    *string_cases("sql", SQL),
    *string_cases("unicode", UNICODE),
    *query_cases("sql", SQL),
    *query_cases("unicode", UNICODE),
    *query_cases("path", PATHS, job_ids=False),  # a job id with a "/" is another route
    *huge_number_cases(),
    *non_finite_cases(),
    *path_cases(),
    *wrong_type_cases(),
    *date_cases(),
    *oversized_cases(),
    *body_shape_cases(),
    *too_large_cases(),
    *other_cases(),
]


# -- the service -------------------------------------------------------------------------------------------------
@dataclass
class Service:
    client: TestClient
    engine: Engine
    home: Path
    job_id: str


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def service(request, tmp_path_factory) -> Iterator[Service]:
    """The app on a migrated database of the backend, with a feature set, a tenant key and one queued job."""
    root = tmp_path_factory.mktemp(f"hostile-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'trainforge.db'}"
        engine = make_engine(url)
        upgrade(engine)
    else:
        url = request.getfixturevalue("pg_url")
        engine = make_engine(url)
        with engine.begin() as conn:  # the run's PostgreSQL database is shared with other modules: start empty
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
    settings = load_settings(home=root / "home", database_url=url, max_request_bytes=MAX_REQUEST_BYTES)
    settings.ensure_home()
    frame = generate_demo_load(n_series=2, periods=24 * 90)
    ParquetFeatureStore(settings.resolved_feature_store_root).write_frame(
        "t1", "demo_load", frame, timestamp_col="timestamp", series_col="site_id"
    )
    token = KeyStore(engine).create("t1", name="hostile").token
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}"}) as client:
        accepted = client.post(f"{JOBS}/start", json=valid_body())
        assert accepted.status_code == 202, accepted.text
        yield Service(client, engine, settings.home, accepted.json()["job_id"])
    engine.dispose()


def snapshot(service: Service) -> tuple[dict[str, list[str]], list[tuple[str, int, int]]]:
    """Every row of every table, and every file under the home (feature store, artifacts) with size and mtime."""
    with service.engine.connect() as conn:
        rows = {table.name: sorted(map(repr, conn.execute(select(table)))) for table in metadata.sorted_tables}
    files = sorted(
        (str(path.relative_to(service.home)), path.stat().st_size, path.stat().st_mtime_ns)
        for path in service.home.rglob("*")
    )
    return rows, files


def documented_statuses(app: FastAPI, method: str, path: str) -> set[int]:
    """The status codes the OpenAPI document declares for the operation that serves ``method path``."""
    for template, operations in app.openapi()["paths"].items():
        if method.lower() in operations and re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), path):
            return {int(code) for code in operations[method.lower()]["responses"]}
    return set()


def send(service: Service, case: Hostile):
    path = case.path.replace("{job}", service.job_id)
    if case.params:  # encoded here: httpx refuses to encode a lone surrogate
        path += "?" + "&".join(
            f"{name}={quote(str(value), safe='', errors='surrogatepass')}" for name, value in case.params.items()
        )
    kwargs: dict[str, Any] = {"headers": dict(case.headers)}
    if case.json_text is not None:
        kwargs["content"] = case.json_text.encode()  # json.dumps escapes non-ASCII: lone surrogates travel too
        kwargs["headers"]["content-type"] = "application/json"
    elif case.content is not None:
        kwargs["content"] = case.content() if callable(case.content) else case.content
    return service.client.request(case.method, path, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_request_is_refused_and_changes_nothing(service, case):
    before = snapshot(service)
    response = send(service, case)

    assert response.status_code == case.status, response.text[:2000]
    assert case.status in documented_statuses(service.client.app, case.method, response.request.url.path)
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()
    assert {"error", "message", "field"} <= error.keys()
    assert isinstance(error["message"], str) and error["message"]
    if case.field is None:
        assert error["field"] is None or case.status == 401
    else:
        assert error["field"] is not None and error["field"].startswith(case.field), error
    assert not [marker for marker in LEAK_MARKERS if marker in response.text], response.text[:2000]
    assert snapshot(service) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (json.dumps(body_with("tags.team", SQL[0])), "tags.team: may only contain letters and digits of any script"),
        (json.dumps(body_with("config.series", ["\u202e"])), "config.series.0: may only contain letters and digits"),
        (json.dumps(body_with("priority", True)), "priority: priority must be one of low, normal, high, urgent or"),
        (
            start_raw("", "config.hyperparams.n_estimators", "NaN", "").json_text,
            "config.hyperparams.n_estimators: must",
        ),
        (b'{"tenant_id": "\xff"}', "body: not valid JSON: not UTF-8 text"),
        (b"[" * 10_000, "body: not valid JSON: nested too deeply"),
        (b'{"tenant_id": "t1", ', "body: not valid JSON: Expecting property name enclosed in double quotes at"),
        (b"", "body: Field required"),
    ],
)
def test_a_refusal_states_the_rule(service, content, message):
    body = content.encode() if isinstance(content, str) else content
    response = service.client.post(f"{JOBS}/start", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["message"].startswith(message), response.json()


def test_the_service_still_works_afterwards(service):
    queued = service.client.get(JOBS, params={"status": "queued"}).json()["total"]
    accepted = service.client.post(f"{JOBS}/start", json=valid_body())
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    assert service.client.get(f"{JOBS}/{job_id}").json()["status"] == "queued"
    assert service.client.get(JOBS, params={"status": "queued"}).json()["total"] == queued + 1
    assert service.client.delete(f"{JOBS}/{job_id}").json()["status"] == "cancelled"
    assert service.client.get(f"{JOBS}/{job_id}/logs", params={"tail": 1}).json()["total_lines"] >= 2


def test_an_unexpected_error_is_a_500_with_an_error_id_that_is_in_the_log(service, monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("SELECT secret FROM api_keys -- the text of a failing query")

    monkeypatch.setattr(JobStore, "list", broken)
    # A client of its own: the module's re-raises server errors into the test instead of returning the 500.
    client = TestClient(service.client.app, headers=dict(service.client.headers), raise_server_exceptions=False)
    response = client.get(JOBS)

    assert response.status_code == 500
    error = response.json()
    assert error["error"] == "internal" and error["field"] is None
    assert error["error_id"] in error["message"]
    assert "SELECT" not in response.text and "RuntimeError" not in response.text
    logged = [record for record in caplog.records if error["error_id"] in record.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback stays on the server
