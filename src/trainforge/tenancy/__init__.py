"""Tenants and API keys: who is calling, and which tenant's objects they may see."""

from trainforge.tenancy._keys import ApiKey, CreatedKey, KeyStore
from trainforge.tenancy._local_key import ensure_local_admin_key, local_key_path, read_local_key
from trainforge.tenancy._principal import Principal

__all__ = [
    "ApiKey",
    "CreatedKey",
    "KeyStore",
    "Principal",
    "ensure_local_admin_key",
    "local_key_path",
    "read_local_key",
]
