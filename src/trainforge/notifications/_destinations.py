"""Where a webhook may point: not into the server's own network, unless the operator allows it.

A webhook makes the server POST to a URL a tenant chose. Without a check, a tenant could aim it at an internal
service or a cloud metadata endpoint (``http://169.254.169.254/…``): server-side request forgery. So by default a
webhook may only reach global addresses: :mod:`ipaddress`'s ``is_global`` (not private, loopback, link-local,
shared, reserved or unspecified). The URL is checked twice: at registration for what needs no DNS (an address
literal, ``localhost``), and before every send for every address its host resolves to, so a name that points
inside (or is changed to) is refused too. ``TRAINFORGE_WEBHOOK_ALLOW_PRIVATE=true`` lifts the rule (a receiver on
the same network, tests).

A name re-pointed between the check and the connection (DNS rebinding) could still slip through; an egress
firewall closes that gap (docs/notifications.md).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

ALLOW_SETTING = "TRAINFORGE_WEBHOOK_ALLOW_PRIVATE"


def refused_destination(url: str, *, resolve: bool) -> str | None:
    """Why a webhook may not POST to ``url`` (None when it may).

    Args:
        url: A URL that passed :func:`~trainforge.notifications._request.check_webhook_url`.
        resolve: Also look the host name up in DNS and check every address it has. A name that does not resolve
            is not refused here: sending to it fails on its own.
    """
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host!r} is this machine; webhooks may only reach public addresses"
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        return _refused_address(literal, host)
    if not resolve:
        return None
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return None
    for address in sorted(found):
        reason = _refused_address(ipaddress.ip_address(address.split("%", 1)[0]), host)
        if reason:
            return reason
    return None


def _refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, host: str) -> str | None:
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:10.0.0.1 is 10.0.0.1
    if mapped is not None:
        address = mapped
    if address.is_global:
        return None
    where = host if host == str(address) else f"{host!r} ({address})"
    return f"{where} is not a public address; webhooks may only reach public addresses unless {ALLOW_SETTING} is true"
