"""Tenants and API keys: who is calling, and which tenant's objects they may see."""

from trainforge.tenancy.keys import ApiKey, CreatedKey, KeyStore
from trainforge.tenancy.principal import Principal

__all__ = ["ApiKey", "CreatedKey", "KeyStore", "Principal"]
