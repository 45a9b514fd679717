"""forwarding.wax: Wax metric events (providers.md §4): the metric names, the flow properties a Wax
flow reads, the request's configurable field names, the skips, and what is sent with which token.
Conversions are built as attribution publishes them (attribution.conversions.build_event)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from wa_conversions import reset
from wa_conversions import tenants as tn
from wa_conversions.attribution.conversions import build_event
from wa_conversions.config import WaxSettings
from wa_conversions.delivery.outcome import OutcomeKind
from wa_conversions.delivery.runner import Job, Planned, QueuedMessage
from wa_conversions.forwarding.conversion import ConversionEvent, parse_conversion
from wa_conversions.forwarding.wax import WaxDestination, WaxRequest, flow_properties, parse_metric_names
from wa_conversions.models import events as ev

SHOP = "wa-conversions-dev.myshopify.com"
AT = 1_764_500_000  # 2025-11-30T10:53:20Z
PHONE = "5215512345678"
DEPLOYMENT_WAX = "https://app.wax.test"
TENANT_WAX = "https://tenant.wax.test"


def conversion(
    kind: str = "order", *, phone: str | None = PHONE, tenant: str | None = None, **properties: Any
) -> dict[str, Any]:
    conversion_id = f"shopify:{SHOP}:820982911946154508"
    defaults: dict[str, Any] = {
        "shop": SHOP,
        "order_id": "820982911946154508",
        "order_name": "#1001",
        "value": 254.98,
        "currency": "USD",
        "line_items": [
            ev.LineItem(title="IPod Nano - 8gb", quantity=1, price=199.0),
            ev.LineItem(title="Shipping Box", quantity=2, price=27.99),
            ev.LineItem(title=None, quantity=1, price=0),
        ],
        "contact_key": phone,
        "ctwa_clid": "Aff-CLID-7",
        "source_id": "120226305854810726",
        "attribution": ev.AttributionFacts(status="attributed", model="last_touch"),
        "tenant": tenant,
    }
    event = build_event(
        event_name="conversion.attributed",
        conversion_id=conversion_id,
        kind=kind,
        event_id=f"{conversion_id}:{kind}",
        provider="shopify",
        at=AT,
        phone=phone,
        properties=defaults | {"phone": phone} | properties,
    )
    return {"detail-type": event.event, "detail": json.loads(event.detail_json())}


def read(message: dict[str, Any]) -> ConversionEvent:
    return parse_conversion(message)


def settings(**env: str) -> WaxSettings:
    return WaxSettings.model_validate(
        {
            "TABLE_NAME": "t",
            "DELIVERY_QUEUE_URL": "q",
            "DELIVERY_DLQ_URL": "d",
            "WAX_BASE_URL": DEPLOYMENT_WAX,
        }
        | env
    )


class WaxStandIn:
    """Wax's POST /v1/metric-events through MockTransport: every request, one status for all."""

    def __init__(self, status: int = 201) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def client(self) -> httpx.Client:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return httpx.Response(self.status, json={"id": "evt_1"})

        return httpx.Client(base_url=DEPLOYMENT_WAX, transport=httpx.MockTransport(handle))


TENANTS = tn.TenantDirectory(
    tn.parse_tenants(
        json.dumps(
            [
                {"id": "mx", "default": True, "phone_number_ids": ["9001"]},
                {"id": "co", "phone_number_ids": ["9002"], "wax": {"base_url": TENANT_WAX}},
                {
                    "id": "pe",
                    "phone_number_ids": ["9003"],
                    "wax": {"token_parameter": "tenants/pe/wax-token"},
                },
            ]
        )
    )
)


def destination(stand_in: WaxStandIn, **env: str) -> WaxDestination:
    return WaxDestination(
        settings(**env),
        stand_in.client,
        lambda: "deployment-token",
        tenants=lambda: TENANTS,
        tenant_secret=lambda name: f"secret-of:{name}",
    )


def request(dest: WaxDestination, message: dict[str, Any]) -> WaxRequest | str:
    return dest.request_for(read(message))


def deliver(dest: WaxDestination, message: dict[str, Any]) -> Any:
    planned = dest.plan(QueuedMessage("m1", "h1", json.dumps(message), 1, message))
    assert isinstance(planned, Planned), planned
    return dest.send([Job(QueuedMessage("m1", "h1", json.dumps(message), 1, message), planned, "d1", 1)])


# -- metric names ---------------------------------------------------------------------------------


def test_metric_names_pair_kinds_with_metrics_and_an_empty_name_drops_the_kind() -> None:
    assert parse_metric_names(" order = purchase ,refund=refund_made, order_shipped=, =orphan,junk") == {
        "order": "purchase",
        "refund": "refund_made",
    }


# -- flow properties ------------------------------------------------------------------------------


def test_an_orders_flow_properties_are_flat_and_readable() -> None:
    properties = flow_properties(read(conversion()))

    assert properties == {
        "order_id": "820982911946154508",
        "order_name": "#1001",
        "order_total": 254.98,
        "currency": "USD",
        "product_names": "IPod Nano - 8gb, Shipping Box",
        "item_count": 4,
        "shop": SHOP,
        "conversion_id": f"shopify:{SHOP}:820982911946154508",
        "event": "conversion.attributed",
        "kind": "order",
        "occurred_at": "2025-11-30T10:53:20.000Z",
        "attributed": True,
        "ad_source_id": "120226305854810726",
    }


def test_a_refund_carries_its_amount_and_an_event_without_lines_or_value_drops_them() -> None:
    refund = flow_properties(read(conversion("refund", value=20.0, line_items=[])))
    unvalued = flow_properties(
        read(conversion(value=None, line_items=[], source_id=None, attribution=ev.AttributionFacts()))
    )

    assert (refund["refund_amount"], refund["order_total"]) == (20.0, 20.0)
    assert "product_names" not in refund and "item_count" not in refund
    assert {"order_total", "refund_amount", "ad_source_id"}.isdisjoint(unvalued)
    assert unvalued["attributed"] is False


def test_an_off_thread_events_action_is_a_flow_property() -> None:
    properties = flow_properties(read(conversion("external", action="Booked a test drive")))

    assert properties["action"] == "Booked a test drive"
    assert "refund_amount" not in properties


# -- the request ----------------------------------------------------------------------------------


def test_the_deployments_request_uses_the_configured_field_names_and_the_event_id() -> None:
    dest = destination(
        WaxStandIn(),
        WAX_METRIC_FIELD="name",
        WAX_PHONE_FIELD="msisdn",
        WAX_UNIQUE_ID_FIELD="idempotency_key",
        WAX_PROPERTIES_FIELD="vars",
        WAX_TIME_FIELD="occurred_at",
        WAX_METRIC_NAMES="order=compra",
    )

    found = request(dest, conversion())

    assert isinstance(found, WaxRequest)
    assert (found.base_url, found.token_parameter) == ("", "")
    assert set(found.body) == {"name", "msisdn", "idempotency_key", "vars", "occurred_at"}
    assert (found.body["name"], found.body["msisdn"]) == ("compra", PHONE)
    assert found.body["idempotency_key"] == f"shopify:{SHOP}:820982911946154508:order"
    assert found.body["occurred_at"] == "2025-11-30T10:53:20.000Z"
    assert found.body["vars"]["order_name"] == "#1001"


def test_without_a_time_field_the_body_has_no_time_of_its_own() -> None:
    found = request(destination(WaxStandIn()), conversion())

    assert isinstance(found, WaxRequest)
    assert set(found.body) == {"metric", "phone_number", "unique_id", "properties"}


def test_a_kind_without_a_metric_and_a_contact_without_a_phone_are_skipped_with_the_reason() -> None:
    dest = destination(WaxStandIn(), WAX_METRIC_NAMES="order=order")

    assert request(dest, conversion("refund")) == (
        "no Wax metric is configured for 'refund' events (WaxMetricNames)"
    )
    assert request(dest, conversion(phone=None)) == (
        "no_phone: Wax identifies contacts by phone, and the contact has none"
    )


def test_a_tenants_request_names_its_wax_account_and_token_parameter() -> None:
    dest = destination(WaxStandIn())

    own_url = request(dest, conversion(tenant="co"))
    own_token = request(dest, conversion(tenant="pe"))
    default = request(dest, conversion(tenant="mx"))

    assert own_url == WaxRequest(own_url.body, TENANT_WAX, "tenants/co/wax-api-token")  # type: ignore[union-attr]
    assert isinstance(own_token, WaxRequest)
    assert (own_token.base_url, own_token.token_parameter) == ("", "tenants/pe/wax-token")
    assert isinstance(default, WaxRequest) and default.token_parameter == ""
    assert request(dest, conversion(tenant="cl")) == (
        "tenant 'cl' is not in the Tenants parameter: no Wax account to send to"
    )


# -- sending --------------------------------------------------------------------------------------


def test_the_deployments_event_is_posted_with_its_token() -> None:
    wax = WaxStandIn()

    outcome = deliver(destination(wax), conversion())

    assert outcome.kind is OutcomeKind.DELIVERED
    [sent] = wax.requests
    assert (sent.method, str(sent.url)) == ("POST", f"{DEPLOYMENT_WAX}/v1/metric-events")
    assert sent.headers["Authorization"] == "Bearer deployment-token"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content)["unique_id"] == f"shopify:{SHOP}:820982911946154508:order"


@pytest.mark.parametrize(("status", "kind"), [(409, OutcomeKind.DELIVERED), (503, OutcomeKind.RETRY)])
def test_a_repeat_wax_already_has_counts_as_delivered(status: int, kind: OutcomeKind) -> None:
    assert deliver(destination(WaxStandIn(status)), conversion()).kind is kind


def test_a_tenant_with_only_its_own_token_is_sent_to_the_deployments_wax() -> None:
    wax = WaxStandIn()

    deliver(destination(wax), conversion(tenant="pe"))

    [sent] = wax.requests
    assert sent.url.host == "app.wax.test"
    assert sent.headers["Authorization"] == "Bearer secret-of:tenants/pe/wax-token"


@pytest.fixture
def fresh_clients() -> Iterator[None]:
    reset()  # http.client_for's pool: a tenant's Wax client is built from its base URL
    try:
        yield
    finally:
        reset()


@respx.mock
@pytest.mark.usefixtures("fresh_clients")
def test_a_tenant_with_its_own_wax_gets_the_event_there_with_its_token() -> None:
    wax = WaxStandIn()
    tenant_wax = respx.post(f"{TENANT_WAX}/v1/metric-events").mock(return_value=httpx.Response(201, json={}))

    outcome = deliver(destination(wax), conversion(tenant="co"))

    assert outcome.kind is OutcomeKind.DELIVERED
    assert wax.requests == []
    sent = tenant_wax.calls.last.request
    assert sent.headers["Authorization"] == "Bearer secret-of:tenants/co/wax-api-token"
    assert json.loads(sent.content)["phone_number"] == PHONE
