"""The local admin key that makes a single-machine install work with no key handling.

``trainforge serve`` and ``trainforge demo`` create it on a fresh home and store it in ``<home>/api_key`` with
owner-only permissions; the CLI reads it from there when no key is given.
"""

from __future__ import annotations

import os
from pathlib import Path

from trainforge.errors import Unauthorized
from trainforge.settings import Settings
from trainforge.tenancy._keys import KeyStore

LOCAL_TENANT = "local"
LOCAL_KEY_NAME = "local-admin"


def local_key_path(settings: Settings) -> Path:
    return settings.home / "api_key"


def read_local_key(settings: Settings) -> str | None:
    try:
        return local_key_path(settings).read_text().strip() or None
    except FileNotFoundError:
        return None


def ensure_local_admin_key(settings: Settings, store: KeyStore) -> str:
    """Return the home's admin key, creating (or replacing a stale) one if it does not authenticate."""
    existing = read_local_key(settings)
    if existing:
        try:
            store.authenticate(existing)
            return existing
        except Unauthorized:
            pass  # a key of another database (or revoked): make a new one
    token = store.create(LOCAL_TENANT, name=LOCAL_KEY_NAME, is_admin=True).token
    path = local_key_path(settings)
    staging = path.with_suffix(".tmp")
    # Created owner-only from the start (not chmod-ed after), then renamed into place atomically.
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    os.replace(staging, path)
    return token
