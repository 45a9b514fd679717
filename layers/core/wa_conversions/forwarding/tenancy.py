"""Which tenant's destination a conversion goes to (docs/tenants.md).

A conversion names its tenant (property `tenant`) only in a deployment with a tenant list; without
one every conversion goes where the deployment's single-business parameters say. A listed tenant's
conversion goes to that tenant's account for the destination, with its secret; a tenant that has no
such account gets the delivery `skipped` with the reason. The default tenant without an account of
its own uses the deployment's parameters (a single-business deployment that became multi-tenant).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..tenants import Tenant, TenantDirectory


@dataclass(frozen=True, slots=True)
class Route:
    """The tenant and its own account for the destination; None when the deployment's parameters apply."""

    tenant: Tenant | None
    account: Any | None


DEPLOYMENT = Route(None, None)


def route(
    tenants: Callable[[], TenantDirectory] | None, tenant_id: str | None, destination: str, field: str
) -> Route | str:
    """The route of a conversion, or why it is skipped. `field` names the Tenant's account attribute
    ("meta", "wax") and `destination` its name in the reason."""
    if not tenant_id or tenants is None:
        return DEPLOYMENT
    directory = tenants()
    if not directory.listed:
        return DEPLOYMENT  # the tenant list was removed since: the deployment's parameters apply
    tenant = directory.get(tenant_id)
    if tenant is None:
        return f"tenant {tenant_id!r} is not in the Tenants parameter: no {destination} account to send to"
    account = getattr(tenant, field)
    if account is None:
        if tenant.default:
            return Route(tenant, None)
        return f"tenant {tenant_id!r} has no {destination} account configured (Tenants: {field})"
    return Route(tenant, account)
