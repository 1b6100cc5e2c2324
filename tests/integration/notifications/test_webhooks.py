"""Webhook notifications end to end on SQLite and PostgreSQL: job events → deliveries → POSTs to a local receiver.

The receiver is a real HTTP server on 127.0.0.1 (a random port) in a thread; time is injected into the
dispatcher, so retries and backoff need no sleeping.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import insert, select, text

from tests.integration.conftest import ApiOptions
from trainforge.db.tables import notification_cursors, notification_deliveries, training_job_events
from trainforge.db.types import utcnow
from trainforge.jobs.records import NewJob
from trainforge.jobs.status import JobStatus
from trainforge.jobs.store import JobStore
from trainforge.notifications import (
    DeliveryStatus,
    NotificationDispatcher,
    RetryPolicy,
    WebhookRequest,
    WebhookSender,
    WebhookStore,
)
from trainforge.pipeline.config import TrainingConfig
from trainforge.submission import JobRequest, submit_job

WEBHOOKS = "/ai/training/webhooks"
JOBS = "/ai/training/jobs"


class Receiver:
    """A local webhook receiver: records every POST and answers from a script of status codes (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: list[int] = []
        self.delay_seconds = 0.0
        self.extra_headers: dict[str, str] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    request = {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
                    receiver.requests.append(request)
                    status = receiver.script.pop(0) if receiver.script else 200
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                reply = b"ok" if status < 300 else b"no_service"
                try:
                    self.send_response(status)
                    for name, value in receiver.extra_headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except BrokenPipeError:
                    pass  # the sender timed out first: what the slow-receiver test provokes on purpose

            def log_message(self, *_args) -> None:  # keep the test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


@pytest.fixture
def dispatchers(engine) -> Iterator:
    made: list[NotificationDispatcher] = []

    def make(**options) -> NotificationDispatcher:
        options.setdefault("policy", RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=60.0))
        options.setdefault("sender", WebhookSender(allow_private=True))  # the receiver is on 127.0.0.1
        dispatcher = NotificationDispatcher(engine, **options)
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        dispatcher.sender.close()


def new_job(tenant: str = "t1") -> NewJob:
    return NewJob(
        tenant_id=tenant,
        model_type="forecast",
        model_name="load_forecast",
        feature_set="site_load",
        config={"target_variable": "load_kw", "horizon": 24},
    )


def run_job(store: JobStore, outcome: JobStatus = JobStatus.COMPLETED, tenant: str = "t1") -> uuid.UUID:
    job = store.enqueue(new_job(tenant))
    store.claim_next("w1")
    if outcome is JobStatus.COMPLETED:
        store.transition(
            job.job_id,
            JobStatus.COMPLETED,
            reason="trained and registered t1:load_forecast:1.0.0",
            worker_id="w1",
            model_id="t1:load_forecast:1.0.0",
            metrics={"mae": 1.25, "rmse": 2.5, "fit_seconds": 3.0, "cpu_seconds": 4.5},
            progress=1.0,
        )
    elif outcome is JobStatus.FAILED:
        store.transition(
            job.job_id, JobStatus.FAILED, reason="fit: too few rows", worker_id="w1", error_message="fit: too few rows"
        )
    else:
        store.transition(job.job_id, outcome, reason="cancelled by test")
    return job.job_id


def add_webhook(engine, url: str, tenant: str = "t1", events=("completed", "failed", "cancelled")):
    return WebhookStore(engine).create(WebhookRequest(tenant_id=tenant, url=url, events=list(events)))


def deliveries_of(engine, webhook) -> list:
    found, total = WebhookStore(engine).deliveries(webhook.webhook_id)
    assert total == len(found)  # every test here has fewer than a page of them
    return found


# -- the outbox and the dispatcher --------------------------------------------------------------------------------
def test_a_completed_job_is_posted_once_with_slack_and_machine_readable_json(engine, receiver, dispatchers):
    store = JobStore(engine)
    webhook = add_webhook(engine, receiver.url())
    job_id = run_job(store)
    dispatcher = dispatchers()

    report = dispatcher.dispatch_once()
    assert report.created == 1 and report.outcomes == {DeliveryStatus.DELIVERED: 1}
    assert dispatcher.dispatch_once().sent == 0  # nothing twice, though the event is read again until it settles

    (request,) = receiver.requests
    body = request["json"]
    assert request["path"] == "/hook"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Trainforge-Event"] == "completed"
    assert "completed" in body["text"] and "t1:load_forecast:1.0.0" in body["text"] and "mae 1.25" in body["text"]
    assert body["blocks"][0]["type"] == "section"
    machine = body["trainforge"]
    assert machine["job_id"] == str(job_id)
    assert machine["status"] == machine["event"] == "completed"
    assert machine["model_id"] == "t1:load_forecast:1.0.0"
    assert machine["metrics"]["mae"] == 1.25 and machine["metrics"]["cpu_seconds"] == 4.5
    assert machine["error_message"] is None
    assert machine["tenant_id"] == "t1"
    assert request["headers"]["X-Trainforge-Delivery"] == machine["delivery_id"]

    (delivery,) = deliveries_of(engine, webhook)
    assert delivery.status is DeliveryStatus.DELIVERED and delivery.attempts == 1
    assert [(a.attempt, a.status_code, a.error) for a in delivery.attempt_log] == [(1, 200, None)]
    assert delivery.attempt_log[0].duration_ms > 0


def test_a_failed_job_says_why(engine, receiver, dispatchers):
    store = JobStore(engine)
    add_webhook(engine, receiver.url())
    run_job(store, JobStatus.FAILED)
    dispatchers().dispatch_once()
    (request,) = receiver.requests
    assert request["json"]["trainforge"]["error_message"] == "fit: too few rows"
    assert "failed: fit: too few rows" in request["json"]["text"]
    assert request["json"]["trainforge"]["model_id"] is None


def test_two_500s_then_200_is_three_attempts_with_backoff_then_delivered(engine, receiver, dispatchers):
    store = JobStore(engine)
    webhook = add_webhook(engine, receiver.url())
    receiver.script = [500, 500]
    run_job(store)
    dispatcher = dispatchers()
    now = utcnow()

    assert dispatcher.dispatch_once(now).outcomes == {DeliveryStatus.PENDING: 1}
    (delivery,) = deliveries_of(engine, webhook)
    first_wait = (delivery.next_attempt_at - now).total_seconds()
    assert 0.5 <= first_wait <= 1.5  # base 1 s, half to all of it (jitter), plus the pass's own time
    assert dispatcher.dispatch_once(now).sent == 0  # not due yet

    assert dispatcher.dispatch_once(now + timedelta(seconds=2)).outcomes == {DeliveryStatus.PENDING: 1}
    (delivery,) = deliveries_of(engine, webhook)
    assert (delivery.next_attempt_at - (now + timedelta(seconds=2))).total_seconds() >= 1.5  # grows: 3 s x jitter
    assert delivery.last_error == "HTTP 500: no_service"

    assert dispatcher.dispatch_once(now + timedelta(seconds=60)).outcomes == {DeliveryStatus.DELIVERED: 1}
    (delivery,) = deliveries_of(engine, webhook)
    assert delivery.status is DeliveryStatus.DELIVERED and delivery.attempts == 3
    assert [(a.attempt, a.status_code) for a in delivery.attempt_log] == [(1, 500), (2, 500), (3, 200)]
    assert [a.error for a in delivery.attempt_log] == ["HTTP 500: no_service", "HTTP 500: no_service", None]
    assert len(receiver.requests) == 3
    assert len({r["headers"]["X-Trainforge-Delivery"] for r in receiver.requests}) == 1  # the same delivery


def test_a_dead_receiver_fails_the_delivery_after_max_attempts_and_never_the_job(engine, dead_url, dispatchers):
    store = JobStore(engine)
    webhook = add_webhook(engine, dead_url)
    job_id = run_job(store)
    dispatcher = dispatchers()
    now = utcnow()
    statuses = [dispatcher.dispatch_once(now + timedelta(minutes=10 * i)).outcomes for i in range(5)]
    assert statuses[:3] == [{DeliveryStatus.PENDING: 1}, {DeliveryStatus.PENDING: 1}, {DeliveryStatus.FAILED: 1}]
    assert statuses[3:] == [{}, {}]  # given up: not tried again
    (delivery,) = deliveries_of(engine, webhook)
    assert delivery.status is DeliveryStatus.FAILED and delivery.attempts == 3
    assert all(a.status_code is None and "ConnectError" in a.error for a in delivery.attempt_log)
    assert store.get(job_id).status is JobStatus.COMPLETED


def test_a_refusal_for_good_is_not_retried_and_retry_after_is_honoured(engine, receiver, dispatchers):
    store = JobStore(engine)
    gone = add_webhook(engine, receiver.url("/gone"))
    receiver.script = [404]
    run_job(store)
    dispatcher = dispatchers()
    assert dispatcher.dispatch_once().outcomes == {DeliveryStatus.FAILED: 1}
    (delivery,) = deliveries_of(engine, gone)
    assert delivery.attempts == 1 and delivery.last_error == "HTTP 404: no_service"

    busy = add_webhook(engine, receiver.url("/busy"), tenant="t2")
    receiver.script = [429]
    receiver.extra_headers = {"Retry-After": "120"}
    run_job(store, tenant="t2")
    now = utcnow()
    assert dispatcher.dispatch_once(now).outcomes == {DeliveryStatus.PENDING: 1}
    (delivery,) = deliveries_of(engine, busy)
    assert (delivery.next_attempt_at - now).total_seconds() >= 120


def test_a_slow_receiver_times_out(engine, receiver, dispatchers):
    store = JobStore(engine)
    webhook = add_webhook(engine, receiver.url())
    receiver.delay_seconds = 0.5
    run_job(store)
    dispatchers(sender=WebhookSender(timeout=0.1, allow_private=True)).dispatch_once()
    (delivery,) = deliveries_of(engine, webhook)
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.attempt_log[0].error == "timed out after 0.1 s"


def test_redirects_are_not_followed(engine, receiver, dispatchers):
    store = JobStore(engine)
    webhook = add_webhook(engine, receiver.url())
    receiver.script = [302]
    receiver.extra_headers = {"Location": "http://169.254.169.254/latest/meta-data"}
    run_job(store)
    dispatchers().dispatch_once()
    (delivery,) = deliveries_of(engine, webhook)
    assert delivery.status is DeliveryStatus.FAILED
    assert "redirects are not followed" in delivery.last_error
    assert len(receiver.requests) == 1


def test_the_webhook_url_a_credential_is_not_logged(engine, receiver, dispatchers, caplog):
    caplog.set_level(logging.DEBUG)
    add_webhook(engine, receiver.url("/services/T000/B000/secret-token"))
    run_job(JobStore(engine))
    dispatchers().dispatch_once()
    assert len(receiver.requests) == 1
    assert "secret-token" not in caplog.text


def test_racing_dispatchers_send_each_notification_once(engine, receiver, dispatchers):
    store = JobStore(engine)
    hooks = [add_webhook(engine, receiver.url("/a")), add_webhook(engine, receiver.url("/b"))]
    jobs = [run_job(store) for _ in range(4)] + [run_job(store, JobStatus.FAILED)]
    racers = [dispatchers() for _ in range(4)]
    barrier = threading.Barrier(len(racers))
    errors: list[BaseException] = []

    def race(dispatcher: NotificationDispatcher) -> None:
        try:
            barrier.wait()
            while dispatcher.dispatch_once().sent:
                pass
        except BaseException as error:  # reported below: a thread's exception would otherwise vanish
            errors.append(error)

    threads = [threading.Thread(target=race, args=(racer,)) for racer in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    while racers[0].dispatch_once().sent:  # anything a racer left (it stops when it claims nothing)
        pass
    sent = sorted((r["path"], r["json"]["trainforge"]["job_id"]) for r in receiver.requests)
    assert sent == sorted((path, str(job)) for path in ("/a", "/b") for job in jobs)
    for hook in hooks:
        assert {d.status for d in deliveries_of(engine, hook)} == {DeliveryStatus.DELIVERED}


def test_webhooks_hear_only_their_tenant_their_events_and_what_ended_after_they_existed(engine, receiver, dispatchers):
    store = JobStore(engine)
    before = run_job(store)  # ended before any webhook existed
    add_webhook(engine, receiver.url("/failures"), events=["failed"])
    add_webhook(engine, receiver.url("/other-tenant"), tenant="t2")
    run_job(store)
    failed = run_job(store, JobStatus.FAILED)
    dispatchers().dispatch_once()
    assert [(r["path"], r["json"]["trainforge"]["job_id"]) for r in receiver.requests] == [("/failures", str(failed))]
    assert str(before) not in json.dumps([r["json"] for r in receiver.requests])


def test_an_event_committed_late_with_a_lower_id_is_still_notified(engine, receiver, dispatchers):
    # On PostgreSQL an event id is taken at insert but seen at commit: a lower id can appear after a higher one.
    # The cursor stays behind events younger than the settle time, so the late one is still read.
    store = JobStore(engine)
    add_webhook(engine, receiver.url())
    late_job = store.enqueue(new_job())
    assert store.claim_next("slow-worker").job_id == late_job.job_id
    with engine.begin() as conn:
        top = conn.execute(select(training_job_events.c.event_id).order_by(training_job_events.c.event_id.desc()))
        gap = top.scalars().first() + 1
        conn.execute(  # leave ids [gap, gap + 4] free, as uncommitted transactions would
            insert(training_job_events).values(
                event_id=gap + 5,
                job_id=late_job.job_id,
                from_status=None,
                to_status="queued",
                reason="filler",
                created_at=utcnow(),
            )
        )
        if engine.dialect.name == "postgresql":  # an explicit id does not move the sequence: move it past the gap
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('training_job_events', 'event_id'), :top)"), {"top": gap + 5}
            )
    early = run_job(store)
    dispatcher = dispatchers()
    dispatcher.dispatch_once()
    with engine.begin() as conn:  # the "late commit"
        conn.execute(
            insert(training_job_events).values(
                event_id=gap,
                job_id=late_job.job_id,
                from_status="running",
                to_status="cancelled",
                reason="cancelled by someone slow",
                created_at=utcnow(),
            )
        )
    dispatcher.dispatch_once(utcnow() + timedelta(seconds=10))
    assert [r["json"]["trainforge"]["job_id"] for r in receiver.requests] == [str(early), str(late_job.job_id)]

    dispatcher.dispatch_once(utcnow() + timedelta(hours=1))  # everything has settled: the cursor moves past it
    with engine.connect() as conn:
        cursor = conn.execute(select(notification_cursors.c.event_id)).scalar_one()
        newest = conn.execute(select(training_job_events.c.event_id).order_by(training_job_events.c.event_id.desc()))
        assert cursor == newest.scalars().first()
    assert len(receiver.requests) == 2


def test_deleting_a_webhook_drops_its_pending_deliveries(engine, dead_url, dispatchers):
    store = JobStore(engine)
    webhook = add_webhook(engine, dead_url)
    run_job(store)
    dispatcher = dispatchers()
    dispatcher.dispatch_once()
    WebhookStore(engine).delete(webhook.webhook_id)
    assert dispatcher.dispatch_once(utcnow() + timedelta(hours=1)).sent == 0
    with engine.connect() as conn:
        assert conn.execute(select(notification_deliveries)).first() is None


def test_a_webhook_deleted_while_its_notification_is_sent_is_no_error(engine, receiver, dispatchers):
    store = JobStore(engine)
    webhook = add_webhook(engine, receiver.url())
    run_job(store)

    class DeletingSender(WebhookSender):
        def send(self, url, payload, **headers):
            WebhookStore(engine).delete(webhook.webhook_id)
            return super().send(url, payload, **headers)

    assert dispatchers(sender=DeletingSender(allow_private=True)).dispatch_once().outcomes == {
        DeliveryStatus.DELIVERED: 1
    }
    assert len(receiver.requests) == 1
    with engine.connect() as conn:
        assert conn.execute(select(notification_deliveries)).first() is None


def test_the_dispatcher_loop_delivers_and_stops(engine, receiver):
    store = JobStore(engine)
    add_webhook(engine, receiver.url())
    run_job(store)
    stop = threading.Event()
    dispatcher = NotificationDispatcher(engine, poll_seconds=0.05, sender=WebhookSender(allow_private=True))
    thread = threading.Thread(target=dispatcher.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not receiver.requests:
            assert time.monotonic() < deadline, "the loop sent nothing"
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(receiver.requests) == 1


def test_a_webhook_receives_the_completion_of_a_real_job(engine, make_worker, receiver, dispatchers):
    made = make_worker(worker_id="notify-test")
    store, features, worker = made.store, made.features, made.worker
    add_webhook(engine, receiver.url())
    request = JobRequest(
        tenant_id="t1",
        model_type="forecast",
        model_name="site_load",
        feature_set="site_load",
        config=TrainingConfig(target_variable="load_kw", horizon=24, hyperparams={"n_estimators": 40}),
    )
    job = submit_job(request, store=store, features=features)
    assert worker.run_next().status is JobStatus.COMPLETED, store.logs(job.job_id)[0]

    dispatchers().dispatch_once()
    (delivery,) = receiver.requests
    machine = delivery["json"]["trainforge"]
    assert (machine["event"], machine["job_id"], machine["model_id"]) == (
        "completed",
        str(job.job_id),
        "t1:site_load:1.0.0",
    )
    assert machine["metrics"]["mae"] > 0 and machine["duration_seconds"] > 0
    assert "completed" in delivery["json"]["text"]


# -- the API ------------------------------------------------------------------------------------------------------
@pytest.fixture
def api_options() -> ApiOptions:
    """The API with the default settings (webhooks may only point at public addresses), a key of t1 and of t2."""
    return ApiOptions(client_tenant=None, feature_tenants=())


# A server that lets webhooks reach this machine (the test receiver is on 127.0.0.1).
PRIVATE = pytest.mark.parametrize(
    "api_options",
    [ApiOptions(client_tenant=None, feature_tenants=(), settings={"webhook_allow_private": True})],
    ids=["allow_private"],
)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_create_list_and_delete_webhooks(api):
    client, tokens = api.client, api.tokens
    body = {"tenant_id": "t1", "url": "https://hooks.example.com/x", "name": "ops"}
    created = client.post(WEBHOOKS, json=body, headers=auth(tokens["t1"]))
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["events"] == ["completed", "failed", "cancelled"] and hook["name"] == "ops"
    assert hook["deliveries_url"] == f"{WEBHOOKS}/{hook['webhook_id']}/deliveries"
    assert [h["webhook_id"] for h in client.get(WEBHOOKS, headers=auth(tokens["t1"])).json()["webhooks"]] == [
        hook["webhook_id"]
    ]
    assert client.get(WEBHOOKS, headers=auth(tokens["t2"])).json()["webhooks"] == []
    assert client.get(hook["deliveries_url"], headers=auth(tokens["t1"])).json()["deliveries"] == []
    deleted = client.delete(f"{WEBHOOKS}/{hook['webhook_id']}", headers=auth(tokens["t1"]))
    assert deleted.status_code == 200
    assert client.delete(f"{WEBHOOKS}/{hook['webhook_id']}", headers=auth(tokens["t1"])).status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "http://"}, "url"),
        ({"url": "https://example.com/a b"}, "url"),
        ({"url": "https://example.com:99999/x"}, "url"),
        ({"url": "https://example.com/" + "x" * 2100}, "url"),
        ({"events": ["started"]}, "events.0"),
        ({"events": []}, "events"),
        ({"events": ["failed", "failed"]}, "events"),
        ({"tenant_id": "a/b"}, "tenant_id"),
        ({"name": "bell\x07"}, "name"),
        ({"secret": "x"}, "secret"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url"),
        ({"url": "http://10.0.0.5/hook"}, "url"),
        ({"url": "http://localhost:8000/hook"}, "url"),
        ({"url": "http://[::1]/hook"}, "url"),
    ],
)
def test_invalid_webhooks_are_422_naming_the_field(api, changes, field):
    client, tokens = api.client, api.tokens
    body = {"tenant_id": "t1", "url": "https://hooks.example.com/x"} | changes
    response = client.post(WEBHOOKS, json=body, headers=auth(tokens["t1"]))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_a_tenant_key_cannot_register_or_list_for_another_tenant(api):
    client, tokens = api.client, api.tokens
    body = {"tenant_id": "t2", "url": "https://hooks.example.com/x"}
    refused = client.post(WEBHOOKS, json=body, headers=auth(tokens["t1"]))
    assert refused.status_code == 403 and refused.json()["field"] == "tenant_id"
    assert client.get(WEBHOOKS, params={"tenant_id": "t2"}, headers=auth(tokens["t1"])).status_code == 403


def test_the_number_of_webhooks_per_tenant_is_bounded(api):
    client, tokens = api.client, api.tokens
    body = {"tenant_id": "t1", "url": "https://hooks.example.com/x"}
    for _ in range(20):
        assert client.post(WEBHOOKS, json=body, headers=auth(tokens["t1"])).status_code == 201
    refused = client.post(WEBHOOKS, json=body, headers=auth(tokens["t1"]))
    assert refused.status_code == 422 and refused.json()["field"] == "tenant_id"


@PRIVATE
def test_the_delivery_log_pages_newest_first_with_its_total(api, engine, receiver, dispatchers):
    client, tokens = api.client, api.tokens
    hook = client.post(WEBHOOKS, json={"tenant_id": "t1", "url": receiver.url()}, headers=auth(tokens["t1"])).json()
    store = JobStore(engine)
    jobs = [str(run_job(store, outcome)) for outcome in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.COMPLETED)]
    dispatchers().dispatch_once()
    first = client.get(hook["deliveries_url"], params={"page_size": 2}, headers=auth(tokens["t1"])).json()
    assert (first["webhook_id"], first["total"], first["page"], first["page_size"]) == (hook["webhook_id"], 3, 1, 2)
    assert [d["job_id"] for d in first["deliveries"]] == jobs[:0:-1]  # newest first
    second = client.get(hook["deliveries_url"], params={"page": 2, "limit": 2}, headers=auth(tokens["t1"])).json()
    assert [d["job_id"] for d in second["deliveries"]] == jobs[:1] and second["total"] == 3
    failed = client.get(hook["deliveries_url"], params={"status": "failed"}, headers=auth(tokens["t1"])).json()
    assert (failed["total"], failed["deliveries"]) == (0, [])  # every one was delivered


@PRIVATE
def test_cancelling_through_the_api_notifies_cancelled_and_the_log_shows_it(api, engine, receiver, dispatchers):
    client, tokens = api.client, api.tokens
    hook = client.post(WEBHOOKS, json={"tenant_id": "t1", "url": receiver.url()}, headers=auth(tokens["t1"])).json()
    job = JobStore(engine).enqueue(new_job())
    assert client.delete(f"{JOBS}/{job.job_id}", headers=auth(tokens["t1"])).status_code == 200
    dispatchers().dispatch_once()
    (request,) = receiver.requests
    assert request["json"]["trainforge"]["event"] == "cancelled"
    assert request["json"]["trainforge"]["job_id"] == str(job.job_id)
    assert "cancelled by key" in request["json"]["trainforge"]["reason"]

    log = client.get(hook["deliveries_url"], headers=auth(tokens["t1"])).json()["deliveries"]
    assert [(d["event"], d["status"], d["attempts"]) for d in log] == [("cancelled", "delivered", 1)]
    assert log[0]["attempt_log"][0]["status_code"] == 200
    assert log[0]["payload"]["trainforge"]["job_id"] == str(job.job_id)
    assert client.get(hook["deliveries_url"], headers=auth(tokens["t2"])).status_code == 404


def test_by_default_a_webhook_to_a_private_address_is_refused_for_good_and_nothing_is_sent(
    engine, receiver, dispatchers
):
    store = JobStore(engine)
    webhook = add_webhook(engine, receiver.url())
    run_job(store)
    outcomes = dispatchers(sender=WebhookSender()).dispatch_once().outcomes
    assert outcomes == {DeliveryStatus.FAILED: 1}  # permanent: another attempt would be refused again
    assert receiver.requests == []
    (delivery,) = deliveries_of(engine, webhook)
    assert delivery.attempt_log[0].error.startswith("not sent: 127.0.0.1 is not a public address")
    assert "TRAINFORGE_WEBHOOK_ALLOW_PRIVATE" in delivery.attempt_log[0].error


@PRIVATE
def test_a_server_that_allows_private_addresses_registers_one(api):
    client, tokens = api.client, api.tokens
    body = {"tenant_id": "t1", "url": "http://10.0.0.5/hook"}
    assert client.post(WEBHOOKS, json=body, headers=auth(tokens["t1"])).status_code == 201
