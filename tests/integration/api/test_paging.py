"""One paging convention on every list route, on SQLite and PostgreSQL: ``page`` and ``page_size`` (or ``limit``,
the specification's name for it) in; the list under its own key with ``total``, ``page`` and ``page_size`` out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

BASE = "/ai/training"
JOB = {
    "tenant_id": "t1",
    "model_type": "forecast",
    "model_name": "load_forecast",
    "feature_set": "demo_load",
    "config": {"target_variable": "load_kw", "horizon": 24},
}


@pytest.fixture
def lists(api):
    """A client of tenant t1 with five of everything that is listed, and each list's path, key and size."""
    app, client = api.app, api.client

    def post(path: str, body: dict) -> dict:
        response = client.post(f"{BASE}/{path}", json=body)
        assert response.status_code in (201, 202), response.text
        return response.json()

    for number in range(5):
        post("jobs/start", JOB)
        post("schedules", {"tenant_id": "t1", "name": f"s{number}", "cron": "@daily", "job": JOB})
        post("webhooks", {"tenant_id": "t1", "url": f"https://hooks.example.com/{number}"})
    study = post("optimize/start", {**JOB, "study_name": "paged", "n_trials": 10} | {"model_name": "paged"})
    for number in range(5):
        began = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=number)
        app.state.study_store.record_trial(
            uuid.UUID(study["study_id"]),
            SimpleNamespace(
                number=number,
                state="COMPLETE",
                value=1.0 + number,
                params={},
                rmse=2.0,
                datetime_start=began,
                datetime_complete=began + timedelta(seconds=5),
                duration_seconds=5.0,
                error=None,
            ),
        )
    webhook_id = client.get(f"{BASE}/webhooks").json()["webhooks"][0]["webhook_id"]
    return SimpleNamespace(
        client=client,
        study_id=study["study_id"],
        routes={
            # path, the list's key, how many items it holds
            "jobs": (f"{BASE}/jobs", "jobs", 6),  # the study runs as a job too
            "schedules": (f"{BASE}/schedules", "schedules", 5),
            "studies": (f"{BASE}/optimize", "studies", 1),
            "trials": (f"{BASE}/optimize/{study['study_id']}/trials", "trials", 5),
            "webhooks": (f"{BASE}/webhooks", "webhooks", 5),
            "deliveries": (f"{BASE}/webhooks/{webhook_id}/deliveries", "deliveries", 0),
        },
    )


ROUTES = ["jobs", "schedules", "studies", "trials", "webhooks", "deliveries"]
ID_KEYS = {"jobs": "job_id", "schedules": "schedule_id", "studies": "study_id", "trials": "trial_id"}
ID_KEYS |= {"webhooks": "webhook_id", "deliveries": "delivery_id"}
MAX_PAGE_SIZE = {"trials": 1000}  # the others: 200


def ids(body: dict, route: str) -> list:
    return [item[ID_KEYS[route]] for item in body[route]]


@pytest.mark.parametrize("route", ROUTES)
def test_every_list_answers_its_items_with_total_page_and_page_size(lists, route):
    path, key, size = lists.routes[route]
    everything = lists.client.get(path, params={"page_size": 200})
    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert (body["total"], body["page"], body["page_size"], len(body[key])) == (size, 1, 200, size)

    second = lists.client.get(path, params={"page": 2, "page_size": 2}).json()
    assert (second["total"], second["page"], second["page_size"]) == (size, 2, 2)
    assert ids(second, route) == ids(body, route)[2:4]
    # `limit` is the specification's name for page_size: the same page, the same answer
    assert lists.client.get(path, params={"page": 2, "limit": 2}).json() == second
    assert lists.client.get(path, params={"page": 2, "limit": 2, "page_size": 2}).json() == second
    beyond = lists.client.get(path, params={"page": 99, "page_size": 2}).json()
    assert (beyond[key], beyond["total"], beyond["page"]) == ([], size, 99)


def test_the_trials_and_deliveries_pages_name_their_parent(lists):
    trials = lists.client.get(lists.routes["trials"][0]).json()
    assert trials["study_id"] == lists.study_id
    assert [t["trial_id"] for t in trials["trials"]] == [0, 1, 2, 3, 4]  # trial order
    path = lists.routes["deliveries"][0]
    assert lists.client.get(path).json()["webhook_id"] == path.split("/")[-2]


@pytest.mark.parametrize(("route", "default"), [("jobs", 20), ("trials", 20), ("deliveries", 50)])
def test_the_default_page_is_the_first(lists, route, default):
    body = lists.client.get(lists.routes[route][0]).json()
    assert (body["page"], body["page_size"]) == (1, default)


@pytest.mark.parametrize("route", ROUTES)
def test_a_limit_that_disagrees_with_page_size_is_422_naming_limit(lists, route):
    refused = lists.client.get(lists.routes[route][0], params={"limit": 2, "page_size": 3})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "invalid_input" and refused.json()["field"] == "limit"
    assert "page_size" in refused.json()["message"]


@pytest.mark.parametrize("route", ROUTES)
def test_out_of_range_paging_is_422_naming_the_query_field(lists, route):
    path = lists.routes[route][0]
    too_big = MAX_PAGE_SIZE.get(route, 200) + 1
    cases = [("page", 0), ("page", -1), ("page", 100_001), ("page", "two"), ("page_size", 0)]
    cases += [("page_size", too_big), ("limit", 0), ("limit", too_big), ("limit", "NaN")]
    for name, value in cases:
        refused = lists.client.get(path, params={name: value})
        assert refused.status_code == 422, (name, value, refused.text)
        assert refused.json()["field"] == name, (name, value)
    assert lists.client.get(path, params={"page_size": too_big - 1}).status_code == 200


@pytest.mark.parametrize("route", ROUTES)
def test_offset_is_refused_rather_than_ignored(lists, route):
    # Trials used to page with limit/offset: an old client's offset must not silently answer the first page.
    refused = lists.client.get(lists.routes[route][0], params={"offset": 2})
    assert refused.status_code == 422 and refused.json()["field"] == "offset"
    assert "page" in refused.json()["message"]


def test_the_openapi_document_describes_the_convention_on_every_list_route(lists):
    document = lists.client.get("/openapi.json").json()
    list_paths = {path.replace(lists.study_id, "{study_id}") for path, _key, _size in lists.routes.values()}
    list_paths = {p if "webhooks/" not in p else f"{BASE}/webhooks/{{webhook_id}}/deliveries" for p in list_paths}
    schemas = document["components"]["schemas"]
    for path in list_paths:
        operation = document["paths"][path]["get"]
        parameters = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
        assert {"page", "page_size", "limit"} <= parameters.keys(), path
        assert "offset" not in parameters, path
        assert parameters["page"]["schema"]["minimum"] == 1
        assert "page_size" in parameters["limit"]["description"], path
        reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        response = schemas[reference.rsplit("/", 1)[1]]
        assert {"total", "page", "page_size"} <= set(response["required"]), path
