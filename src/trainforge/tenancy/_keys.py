"""API keys: created once and shown once, stored hashed, checked in constant time, revocable.

A key reads ``tfk_<key_id>_<secret>``. ``key_id`` is public (it names the key in listings and finds its row);
``secret`` is 256 random bits from :mod:`secrets`. Only ``sha256(secret)`` is stored, compared with
:func:`hmac.compare_digest`. A slow password hash (argon2, bcrypt) protects low-entropy passwords against guessing;
a 256-bit random secret cannot be guessed, and a slow hash would cost every API request tens of milliseconds.
This is the scheme GitHub and Stripe use for their tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, bindparam, insert, select, update

from trainforge.db.engine import read_transaction, write_transaction
from trainforge.db.tables import api_keys
from trainforge.db.types import utcnow
from trainforge.errors import ApiKeyNotFound, Unauthorized
from trainforge.names import check_name, check_tenant
from trainforge.tenancy._principal import Principal

KEY_PREFIX = "tfk"
_KEY_ID_BYTES = 6  # 12 hex characters: unique enough for a listing, not a secret
_SECRET_BYTES = 32


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    tenant_id: str
    name: str
    is_admin: bool
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``token`` is the only copy of the secret there will ever be."""

    key: ApiKey
    token: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_KEY_ID = re.compile(rf"[0-9a-f]{{{2 * _KEY_ID_BYTES}}}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,128}")  # token_urlsafe's alphabet
# Built once: every request authenticates (see jobs/store.py's _GET_JOB).
_KEY_BY_ID = select(api_keys).where(api_keys.c.key_id == bindparam("key_id"))


def split_token(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed token, else None (so nothing malformed ever reaches a query)."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not _KEY_ID.fullmatch(key_id) or not _SECRET.fullmatch(secret):
        return None
    return key_id, secret


class KeyStore:
    """API keys in the metadata database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, tenant_id: str, *, name: str = "default", is_admin: bool = False) -> CreatedKey:
        check_tenant(tenant_id)
        check_name(name, "name")
        key_id = secrets.token_hex(_KEY_ID_BYTES)
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        now = utcnow()
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(api_keys).values(
                    key_id=key_id,
                    tenant_id=tenant_id,
                    name=name,
                    is_admin=is_admin,
                    key_hash=_digest(secret),
                    created_at=now,
                )
            )
        key = ApiKey(key_id, tenant_id, name, is_admin, now, None)
        return CreatedKey(key, f"{KEY_PREFIX}_{key_id}_{secret}")

    def authenticate(self, token: str | None) -> Principal:
        """The principal of a bearer token.

        Raises:
            Unauthorized: no token, a malformed one, or one that is unknown or revoked (one message for all, so a
                caller learns nothing about which keys exist).
        """
        parts = split_token(token) if token else None
        if parts is None:
            raise Unauthorized("missing or malformed API key; send `Authorization: Bearer <key>`")
        key_id, secret = parts
        with read_transaction(self.engine) as conn:
            row = conn.execute(_KEY_BY_ID, {"key_id": key_id}).mappings().one_or_none()
        # Compare even when the key is unknown, so that the time taken does not tell which key ids exist.
        stored = row["key_hash"] if row is not None else _digest(secrets.token_urlsafe(_SECRET_BYTES))
        if not hmac.compare_digest(stored, _digest(secret)) or row is None or row["revoked_at"] is not None:
            raise Unauthorized("invalid or revoked API key")
        return Principal(key_id=key_id, tenant_id=row["tenant_id"], is_admin=row["is_admin"])

    def list(self, tenant_id: str | None = None) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.created_at)
        if tenant_id is not None:
            query = query.where(api_keys.c.tenant_id == tenant_id)
        with read_transaction(self.engine) as conn:
            return [
                ApiKey(r["key_id"], r["tenant_id"], r["name"], r["is_admin"], r["created_at"], r["revoked_at"])
                for r in conn.execute(query).mappings()
            ]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key at once; revoking a revoked key changes nothing."""
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            row = conn.execute(_KEY_BY_ID, {"key_id": key_id}).mappings().one_or_none()
        if row is None:
            raise ApiKeyNotFound(key_id)
        return ApiKey(
            row["key_id"], row["tenant_id"], row["name"], row["is_admin"], row["created_at"], row["revoked_at"]
        )
