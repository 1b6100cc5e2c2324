"""The notification dispatcher: a loop that turns job endings into webhook POSTs, in any number of processes.

A job can end in the API process (a cancellation) or in any worker, so nothing is sent by the code that ended it:
the dispatcher reads the job events that :class:`~trainforge.jobs.store.JobStore` wrote, through the outbox
(:mod:`trainforge.notifications._outbox`). A webhook that fails only fails its own delivery row.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from trainforge.db.types import utcnow
from trainforge.notifications._outbox import ClaimedDelivery, NotificationOutbox
from trainforge.notifications._records import DeliveryStatus
from trainforge.notifications._retry import RetryPolicy
from trainforge.notifications._sender import SendOutcome, WebhookSender

logger = logging.getLogger(__name__)


@dataclass
class DispatchReport:
    """What one pass did."""

    created: int = 0
    outcomes: dict[DeliveryStatus, int] = field(default_factory=dict)
    more_due: bool = False  # the pass stopped at its send limit with deliveries still due

    @property
    def sent(self) -> int:
        return sum(self.outcomes.values())


class NotificationDispatcher:
    """Creates and sends webhook deliveries.

    Args:
        engine: the metadata database.
        sender: what POSTs (default: :class:`WebhookSender` with a 5 s timeout).
        policy: retries and backoff (default: 5 attempts, from ~5 s to ~15 min apart).
        dispatcher_id: names this dispatcher in claims (default: host, pid and a random suffix).
        clock: the time, for every schedule decision (tests pass a fake one).
        poll_seconds: how long :meth:`run` waits between passes when there is nothing to do.
        settle_seconds: see :class:`NotificationOutbox`.
        max_sends_per_pass: sends in one :meth:`dispatch_once`; the rest wait for the next pass.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        sender: WebhookSender | None = None,
        policy: RetryPolicy | None = None,
        dispatcher_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        poll_seconds: float = 1.0,
        settle_seconds: float = 120.0,
        max_sends_per_pass: int = 50,
    ) -> None:
        self.outbox = NotificationOutbox(engine, settle_seconds=settle_seconds)
        self.sender = sender or WebhookSender()
        self.policy = policy or RetryPolicy()
        self.dispatcher_id = dispatcher_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.max_sends_per_pass = max_sends_per_pass
        # Long enough that no live dispatcher loses a claim mid-send (the POST times out well before).
        self.lease_seconds = 2 * self.sender.timeout + 30.0

    def dispatch_once(self, now: datetime | None = None) -> DispatchReport:
        """One pass: create the deliveries of new job endings, then send what is due (oldest first).

        Args:
            now: the time of this pass (default: the clock). Attempts are stamped ``now`` plus the real time
                elapsed since the pass began.
        """
        now = now or self.clock()
        began = time.monotonic()
        report = DispatchReport(created=self.outbox.fan_out(now))
        for _ in range(self.max_sends_per_pass):
            claimed = self.outbox.claim(self.dispatcher_id, now, lease_seconds=self.lease_seconds)
            if claimed is None:
                return report
            started_at = now + timedelta(seconds=time.monotonic() - began)
            status = self.outbox.settle(
                claimed,
                self._send(claimed),
                dispatcher_id=self.dispatcher_id,
                started_at=started_at,
                now=now + timedelta(seconds=time.monotonic() - began),
                policy=self.policy,
            )
            report.outcomes[status] = report.outcomes.get(status, 0) + 1
        report.more_due = True
        return report

    def run(self, stop: threading.Event) -> None:
        """Dispatch until ``stop`` is set; a database hiccup is logged and the loop goes on."""
        logger.info("notification dispatcher %s started", self.dispatcher_id)
        while not stop.is_set():
            try:
                report = self.dispatch_once()
            except Exception:
                logger.exception("notification dispatcher %s: unexpected error; continuing", self.dispatcher_id)
                report = DispatchReport()
            if not report.more_due:
                stop.wait(self.poll_seconds)
        self.sender.close()
        logger.info("notification dispatcher %s stopped", self.dispatcher_id)

    def _send(self, claimed: ClaimedDelivery) -> SendOutcome:
        try:
            return self.sender.send(
                claimed.url, claimed.payload, delivery_id=str(claimed.delivery_id), event=claimed.event
            )
        except Exception as error:  # a bug or a library surprise must cost one attempt, not the dispatcher
            logger.exception("sending delivery %s failed unexpectedly", claimed.delivery_id)
            return SendOutcome(None, f"{type(error).__name__}: {error}", 0.0)


def start_dispatcher(engine: Engine, stop: threading.Event, **options) -> threading.Thread:
    """Run a :class:`NotificationDispatcher` in a daemon thread until ``stop`` is set (``trainforge serve``, and
    any process that runs workers)."""
    dispatcher = NotificationDispatcher(engine, **options)
    thread = threading.Thread(target=dispatcher.run, args=(stop,), name="trainforge-notifications", daemon=True)
    thread.start()
    return thread
