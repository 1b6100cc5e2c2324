"""The caller of a request, and the one rule that scopes every query to a tenant."""

from __future__ import annotations

from dataclasses import dataclass

from trainforge.errors import Forbidden


@dataclass(frozen=True)
class Principal:
    """An authenticated API key: the tenant it belongs to, and whether it may act for every tenant."""

    key_id: str
    tenant_id: str
    is_admin: bool = False

    @property
    def tenant_scope(self) -> str | None:
        """The tenant every query is limited to; None for an admin, who sees every tenant."""
        return None if self.is_admin else self.tenant_id

    def act_for(self, tenant_id: str | None, *, field: str = "tenant_id") -> str | None:
        """The tenant a request may act for, given the ``tenant_id`` it names (in a body or a query string).

        A tenant key acts only for its own tenant: naming another one is refused (403), naming none means its own.
        An admin key acts for the tenant it names, or for every tenant when it names none.

        Raises:
            Forbidden: a tenant key named another tenant.
        """
        if self.is_admin:
            return tenant_id
        if tenant_id is not None and tenant_id != self.tenant_id:
            raise Forbidden(
                f"this API key belongs to tenant {self.tenant_id!r}; it cannot act for another", field=field
            )
        return self.tenant_id
