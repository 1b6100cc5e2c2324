"""What a webhook registration must look like."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from trainforge.notifications import WebhookRequest, check_webhook_url


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T000/B000/XXXX",
        "http://127.0.0.1:8080/hook?x=1",
        "HTTPS://Example.COM/path",
        "https://user:pass@example.com/x",
        "https://bücher.example/hook",
    ],
)
def test_http_and_https_urls_are_accepted_as_given(url):
    assert check_webhook_url(url) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/x", "http"),
        ("file:///etc/passwd", "http"),
        ("example.com/hook", "http"),
        ("https:///no-host", "host"),
        ("https://example.com:70000/", "valid URL"),
        ("https://exa mple.com/", "spaces"),
        ("https://example.com/\r\nX-Injected: 1", "control"),
        ("https://example.com/" + "a" * 2048, "2048"),
    ],
)
def test_other_urls_are_refused_with_the_reason(url, why):
    with pytest.raises(ValueError, match=why):
        check_webhook_url(url)


def test_events_default_to_every_ending_and_are_put_in_one_order():
    assert WebhookRequest(tenant_id="t", url="https://x.example/").events == ["completed", "failed", "cancelled"]
    assert WebhookRequest(tenant_id="t", url="https://x.example/", events=["cancelled", "completed"]).events == [
        "completed",
        "cancelled",
    ]


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError):
        WebhookRequest(tenant_id="t", url="https://x.example/", secret="s")
