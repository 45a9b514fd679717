"""How a tenant's copy of a counter is named in a counter item ("tenant#<id>#<counter>", docs/tenants.md),
and reading one tenant's counters back: shared by the aggregator that writes them and the store that
reads them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TENANT_PREFIX = "tenant#"


def counters_of(counters: Mapping[str, Any], tenant: str | None) -> dict[str, Any]:
    """One hour item's counters for a tenant (its prefix taken off), or the deployment's (no tenant's)."""
    if tenant is None:
        return {k: v for k, v in counters.items() if not k.startswith(TENANT_PREFIX)}
    prefix = f"{TENANT_PREFIX}{tenant}#"
    return {k.removeprefix(prefix): v for k, v in counters.items() if k.startswith(prefix)}
