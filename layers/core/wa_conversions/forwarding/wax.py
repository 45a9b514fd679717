"""Wax metric events (providers.md §4): POST /v1/metric-events with a Bearer token.

Wax documents what the fields mean but not all their names, so path and field names come from
settings, with the documented or inferred names as defaults. `unique_id` is the conversion event's
stable id: a repeat gets 409 Conflict, which means Wax already has it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import WaxSettings
from ..delivery import http
from ..delivery.outcome import Outcome
from ..delivery.runner import Job
from ..models.events import iso_timestamp
from .base import ConversionDestination
from .conversion import ConversionEvent
from .tenancy import route

if TYPE_CHECKING:
    from ..tenants import TenantDirectory, WaxTenant


def parse_metric_names(text: str) -> dict[str, str]:
    """ "order=order,refund=refund" -> {"order": "order", "refund": "refund"}; an empty name drops
    the kind."""
    names: dict[str, str] = {}
    for pair in text.split(","):
        kind, _, metric = pair.partition("=")
        if kind.strip() and metric.strip():
            names[kind.strip()] = metric.strip()
    return names


@dataclass(frozen=True, slots=True)
class WaxRequest:
    body: dict[str, Any]
    # A tenant's own Wax account (docs/tenants.md): its base URL and token parameter; empty: the deployment's.
    base_url: str = ""
    token_parameter: str = ""


def flow_properties(event: ConversionEvent) -> dict[str, Any]:
    """Every property becomes a flow variable in Wax ({{order_total}}), so keep them flat and
    readable: names joined into one string, amounts as numbers."""
    p = event.properties
    names = event.product_names()
    properties: dict[str, Any] = {
        "order_id": p.order_id,
        "order_name": p.order_name,
        "order_total": p.value,
        "currency": p.currency,
        "product_names": ", ".join(names) if names else None,
        "item_count": event.item_count() if p.line_items else None,
        "shop": p.shop,
        "conversion_id": p.conversion_id,
        "event": event.name,
        "kind": p.kind,
        "occurred_at": iso_timestamp(event.event_time),
        "attributed": p.attribution.status == "attributed",
        "ad_source_id": p.source_id,
    }
    if p.kind == "refund":
        properties["refund_amount"] = p.value
    if p.action:
        properties["action"] = p.action
    return {key: value for key, value in properties.items() if value is not None}


class WaxDestination(ConversionDestination):
    name = "wax"
    # A repeat of a unique_id gets 409, which counts as delivered: an unknown outcome is retried.
    dedupes = True

    def __init__(
        self,
        settings: WaxSettings,
        client_factory: Any,
        secret: Any,
        tenants: Callable[[], TenantDirectory] | None = None,
        tenant_secret: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(client_factory, secret)
        self.settings = settings
        self.metric_names = parse_metric_names(settings.metric_names)
        self._tenants = tenants
        self._tenant_secret = tenant_secret

    def request_for(self, event: ConversionEvent) -> WaxRequest | str:
        p = event.properties
        routed = route(self._tenants, p.tenant, "Wax", "wax")
        if isinstance(routed, str):
            return routed
        metric = self.metric_names.get(p.kind)
        if metric is None:
            return f"no Wax metric is configured for {p.kind!r} events (WaxMetricNames)"
        if not p.phone:
            return "no_phone: Wax identifies contacts by phone, and the contact has none"
        s = self.settings
        body: dict[str, Any] = {
            s.metric_field: metric,
            s.phone_field: p.phone,
            s.unique_id_field: p.event_id,
            s.properties_field: flow_properties(event),
        }
        if s.time_field:
            body[s.time_field] = iso_timestamp(event.event_time)
        account: WaxTenant | None = routed.account
        if account is None or routed.tenant is None:
            return WaxRequest(body)
        token = routed.tenant.secret_name(account.token_parameter, "wax-api-token")
        return WaxRequest(body, account.base_url or "", token)

    def send_one(self, job: Job) -> Outcome:
        request: WaxRequest = job.planned.request
        client, token = self.client, None
        if request.token_parameter:
            if request.base_url:
                client = http.client_for("wax", request.base_url, self.settings.http_timeout_seconds)
            if self._tenant_secret is not None:
                token = self._tenant_secret(request.token_parameter)
        return http.send(
            client,
            "POST",
            self.settings.metric_events_path,
            json=request.body,
            headers={"Authorization": f"Bearer {token or self._secret()}"},
            conflict_is_delivered=True,
        )
