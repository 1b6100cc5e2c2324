"""POSTing one notification: httpx's errors become a :class:`SendOutcome` here, at the boundary."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from trainforge import __version__
from trainforge.notifications._destinations import refused_destination

DEFAULT_TIMEOUT_SECONDS = 5.0
_BODY_CHARS = 300  # of a refusal's body, kept in the delivery log (Slack explains itself there: "no_service")
_RETRYABLE_4XX = frozenset({408, 425, 429})
_sending = threading.local()


class _HideWebhookRequests(logging.Filter):
    """httpx logs every request with its full URL at INFO; a webhook's URL is a credential (Slack's are), and the
    attempt is in the delivery log anyway. Drops httpx's records emitted while this thread sends a notification."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_sending, "active", False)


logging.getLogger("httpx").addFilter(_HideWebhookRequests())


@dataclass(frozen=True)
class SendOutcome:
    """What one attempt got: an HTTP status, or an error with no status (refused, timed out, …)."""

    status_code: int | None
    error: str | None
    duration_ms: float
    retry_after: float | None = None  # seconds the receiver asked us to wait (429, 503)
    refused: bool = False  # not sent: the destination is not allowed (see notifications.destinations)

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def permanent(self) -> bool:
        """A refusal that another attempt would not change: a redirect (never followed: the receiver's URL is
        wrong), a 4xx other than timeout / too early / too many requests, or a destination that is not allowed."""
        code = self.status_code
        if self.refused:
            return True
        return code is not None and (300 <= code < 400 or (400 <= code < 500 and code not in _RETRYABLE_4XX))


class WebhookSender:
    """Sends notifications with one short timeout for connect, write and read; never follows redirects (a
    redirect could point a tenant's notification at an address the tenant did not register). Unless
    ``allow_private``, refuses destinations that resolve to non-public addresses (see
    :mod:`trainforge.notifications._destinations`)."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        client: httpx.Client | None = None,
        allow_private: bool = False,
    ) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, url: str, payload: dict[str, Any], *, delivery_id: str, event: str) -> SendOutcome:
        if not self.allow_private and (reason := refused_destination(url, resolve=True)):
            return SendOutcome(None, f"not sent: {reason}", 0.0, refused=True)
        body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"trainforge/{__version__}",
            "X-Trainforge-Delivery": delivery_id,
            "X-Trainforge-Event": event,
        }
        started = time.monotonic()
        _sending.active = True
        try:
            with self._client.stream("POST", url, content=body, headers=headers) as response:
                text = _read_some(response)
        except httpx.TimeoutException:
            return SendOutcome(None, f"timed out after {self.timeout:g} s", _ms_since(started))
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            return SendOutcome(None, f"{type(error).__name__}: {error}", _ms_since(started))
        finally:
            _sending.active = False
        elapsed = _ms_since(started)
        if 200 <= response.status_code < 300:
            return SendOutcome(response.status_code, None, elapsed)
        reason = f"HTTP {response.status_code}"
        if 300 <= response.status_code < 400:
            reason += f" redirect to {response.headers.get('location', '?')} (redirects are not followed)"
        elif text:
            reason += f": {text}"
        return SendOutcome(response.status_code, reason, elapsed, _retry_after(response.headers.get("retry-after")))

    def close(self) -> None:
        self._client.close()


def _read_some(response: httpx.Response) -> str:
    # A receiver may answer with anything, of any size: read no more than the log keeps.
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= _BODY_CHARS * 4:
            break
    return b"".join(chunks).decode("utf-8", "replace").strip()[:_BODY_CHARS]


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)
