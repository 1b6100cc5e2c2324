"""Which webhook destinations are refused by default (server-side request forgery)."""

from __future__ import annotations

import socket

import pytest

from trainforge.notifications._destinations import refused_destination


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.10/hook",
        "http://172.16.0.1/hook",
        "http://169.254.169.254/latest/meta-data",  # cloud metadata
        "http://100.64.0.1/hook",  # carrier-grade NAT (shared)
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",  # an IPv4 private address in IPv6 clothing
        "http://localhost:9000/hook",
        "http://LOCALHOST./hook",
        "http://api.localhost/hook",
    ],
)
def test_addresses_inside_are_refused_without_dns(url):
    reason = refused_destination(url, resolve=False)
    assert reason is not None
    assert "public addresses" in reason


@pytest.mark.parametrize("url", ["https://8.8.8.8/hook", "https://[2001:4860:4860::8888]/hook"])
def test_global_addresses_are_allowed(url):
    assert refused_destination(url, resolve=False) is None


def test_a_name_is_not_looked_up_at_registration():
    assert refused_destination("https://hooks.slack.com/services/T/B/X", resolve=False) is None


def test_a_name_that_resolves_inside_is_refused_before_sending():
    # This machine's own name resolves to one of its addresses (loopback or a private one), never a public one
    # on a test machine; it is a name, so only the DNS check can catch it.
    host = socket.gethostname()
    url = f"http://{host}/hook"
    assert refused_destination(url, resolve=False) is None
    reason = refused_destination(url, resolve=True)
    assert reason is not None and host in reason


def test_a_name_that_does_not_resolve_is_left_to_the_send():
    assert refused_destination("https://no-such-host.invalid/hook", resolve=True) is None
