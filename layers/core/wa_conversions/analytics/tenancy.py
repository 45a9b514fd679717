"""Per-tenant analytics (docs/tenants.md): each counter a listed tenant's event adds is added again as
"tenant#<id>#<counter>" in the same hour item, so GET /metrics?tenant= reads one tenant and GET /metrics
the whole deployment from the same Query calls. A deployment without a tenant list writes no
tenant counter: its items are as they were."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..models.counters import TENANT_PREFIX

if TYPE_CHECKING:  # the aggregator imports this module: no insights (and its HTTP client) at cold start
    from ..models.ad_day import AdDay


def tenant_of(properties: Mapping[str, Any]) -> str | None:
    """The tenant an event names (capture and attribution stamp listed tenants' events)."""
    value = properties.get("tenant")
    return value if isinstance(value, str) and value else None


def with_tenant(
    deltas: Mapping[str, float], tenant: str | None, extra: Mapping[str, float] = {}
) -> dict[str, float]:
    """The deployment's deltas plus the tenant's copy of them and of `extra` (contributions counted
    before the tenant was known): {"<hour>|<counter>": n, "<hour>|tenant#<id>#<counter>": n}."""
    out = dict(deltas)
    if tenant is None:
        return out
    for source in (deltas, extra):
        for key, amount in source.items():
            bucket, _, counter = key.partition("|")
            scoped = f"{bucket}|{TENANT_PREFIX}{tenant}#{counter}"
            out[scoped] = out.get(scoped, 0) + amount
    return {key: amount for key, amount in out.items() if amount}


def spend_of_tenant(spend: Iterable[AdDay], account_ids: Iterable[str], ad_ids: Iterable[str]) -> list[AdDay]:
    """A tenant's ad spend: its ad accounts' when it lists them; else the ads its own clicks came from
    (an ad id is Meta's, unique, and a Click-to-WhatsApp ad opens one number), which misses only its
    ads without a click in the range."""
    accounts = {account.strip().removeprefix("act_") for account in account_ids}
    if accounts:
        return [row for row in spend if row.account_id.removeprefix("act_") in accounts]
    ads = set(ad_ids)
    return [row for row in spend if row.ad_id in ads]


def ad_ids_of(days: Mapping[str, Mapping[str, float]]) -> set[str]:
    """The ads named by counters ("ad#<id>#clicks"...)."""
    return {
        counter.split("#", 2)[1]
        for counters in days.values()
        for counter in counters
        if counter.startswith("ad#")
    }
