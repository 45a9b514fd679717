"""Reconciliation from Shopify's Admin GraphQL API: pages and rate limits honoured, orders rewritten so
the webhook parser reads them alike, and a cursor that moves only past what was queued."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from wa_conversions.attribution.delivery import ShopifyDelivery
from wa_conversions.attribution.reconcile import (
    OVERLAP,
    Delivery,
    Reconciler,
    deliveries_for,
    parse_request,
)
from wa_conversions.errors import HandoffError
from wa_conversions.providers import shopify
from wa_conversions.providers.shopify_admin import (
    AdminApiError,
    AdminApiUnavailable,
    AdminClient,
    rest_order,
    rest_refunds,
)

SHOP = "brand-a.myshopify.com"
URL = f"https://{SHOP}/admin/api/2026-01/graphql.json"
SINCE = datetime(2026, 11, 30, tzinfo=UTC)


def node(order_id: int, updated_at: str, **overrides: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "legacyResourceId": str(order_id),
        "name": f"#{order_id}",
        "email": None,
        "phone": None,
        "createdAt": "2026-11-30T10:00:00Z",
        "processedAt": "2026-11-30T10:00:05Z",
        "updatedAt": updated_at,
        "cancelledAt": None,
        "displayFinancialStatus": "PAID",
        "currencyCode": "MXN",
        "presentmentCurrencyCode": "MXN",
        "test": False,
        "totalPriceSet": {
            "shopMoney": {"amount": "450.00", "currencyCode": "MXN"},
            "presentmentMoney": {"amount": "450.00", "currencyCode": "MXN"},
        },
        "customAttributes": [{"key": "fbc", "value": "fb.1.1.abc"}],
        "customer": {
            "legacyResourceId": "77",
            "firstName": "Ana",
            "lastName": "Ruiz",
            "defaultEmailAddress": {"emailAddress": "ana@example.com"},
            "defaultPhoneNumber": {"phoneNumber": "+5215512345678"},
            "defaultAddress": {"phone": None, "countryCodeV2": "MX"},
        },
        "billingAddress": {"phone": "55 1234 5678", "countryCodeV2": "MX", "city": "CDMX"},
        "shippingAddress": None,
        "lineItems": {
            "nodes": [
                {
                    "id": "gid://shopify/LineItem/9001",
                    "sku": "TEE-1",
                    "title": "Tee",
                    "name": "Tee - M",
                    "quantity": 2,
                    "variant": {"legacyResourceId": "501"},
                    "product": {"legacyResourceId": "401"},
                    "originalUnitPriceSet": {"shopMoney": {"amount": "225.00"}},
                }
            ]
        },
        "refunds": [],
    }
    found.update(overrides)
    return found


def page(
    nodes: list[dict[str, Any]], end: str | None, more: bool, available: float = 1988.0
) -> dict[str, Any]:
    return {
        "data": {"orders": {"nodes": nodes, "pageInfo": {"hasNextPage": more, "endCursor": end}}},
        "extensions": {
            "cost": {
                "requestedQueryCost": 152,
                "actualQueryCost": 12,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": available,
                    "restoreRate": 100.0,
                },
            }
        },
    }


THROTTLED = {
    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
    "extensions": {
        "cost": {
            "requestedQueryCost": 152,
            "actualQueryCost": None,
            "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 100.0, "restoreRate": 100.0},
        }
    },
}


class Clock:
    def __init__(self, left: float = 300.0) -> None:
        self.left = left
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.left -= seconds

    def deadline(self) -> float:
        return self.left


def client(http: httpx.Client, clock: Clock) -> AdminClient:
    return AdminClient(http, shop=SHOP, token="shpat_x", deadline=clock.deadline, sleep=clock.sleep)


# -- the Admin API client -----------------------------------------------------------------------------


@respx.mock
def test_a_throttled_query_waits_for_the_points_it_needs_then_succeeds() -> None:
    route = respx.post(URL).mock(
        side_effect=[httpx.Response(200, json=THROTTLED), httpx.Response(200, json=page([], None, False))]
    )
    clock = Clock()

    with httpx.Client() as http:
        found = client(http, clock).orders_page(SINCE, None)

    assert found.orders == [] and route.call_count == 2
    # (152 requested - 100 available) / 100 restored per second
    assert clock.slept == [pytest.approx(0.52)]
    sent = json.loads(route.calls[0].request.content)
    assert sent["variables"] == {"first": 5, "after": None, "query": "updated_at:>='2026-11-30T00:00:00Z'"}
    assert route.calls[0].request.headers["X-Shopify-Access-Token"] == "shpat_x"


@respx.mock
def test_a_429_is_retried_after_its_retry_after() -> None:
    respx.post(URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2.0"}),
            httpx.Response(200, json=page([node(1, "2026-11-30T10:00:05Z")], "c1", False)),
        ]
    )
    clock = Clock()

    with httpx.Client() as http:
        found = client(http, clock).orders_page(SINCE, None)

    assert [o["legacyResourceId"] for o in found.orders] == ["1"]
    assert clock.slept == [2.0]


@respx.mock
def test_the_next_query_waits_when_the_bucket_holds_less_than_it_costs() -> None:
    respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, json=page([], "c1", True, available=52.0)),
            httpx.Response(200, json=page([], None, False)),
        ]
    )
    clock = Clock()

    with httpx.Client() as http:
        admin = client(http, clock)
        admin.orders_page(SINCE, None)
        admin.orders_page(SINCE, "c1")

    assert clock.slept == [pytest.approx(1.0)]


@respx.mock
def test_a_wait_past_the_deadline_gives_up_for_this_run() -> None:
    respx.post(URL).mock(return_value=httpx.Response(200, json=THROTTLED))
    clock = Clock(left=0.3)

    with httpx.Client() as http, pytest.raises(AdminApiUnavailable):
        client(http, clock).orders_page(SINCE, None)

    assert clock.slept == []


@respx.mock
def test_a_refused_token_is_an_error_not_a_retry() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(401, json={"errors": "[API] Invalid API key"}))

    with httpx.Client() as http, pytest.raises(AdminApiError, match="401"):
        client(http, Clock()).orders_page(SINCE, None)

    assert route.call_count == 1


# -- the webhook shape ----------------------------------------------------------------------------------


def test_an_admin_api_order_reads_as_its_webhook_would() -> None:
    facts = shopify.order_facts(
        shopify.parse_order(json.dumps(rest_order(node(1001, "2026-11-30T12:00:00Z"))))
    )

    assert facts.order_id == "1001" and facts.name == "#1001"
    assert facts.value is not None and (facts.value.amount, facts.value.currency) == (
        Decimal("450.00"),
        "MXN",
    )
    assert facts.financial_status == "paid"
    assert facts.email == "ana@example.com"
    assert [(p.raw, p.country) for p in facts.phones] == [("+5215512345678", "MX"), ("55 1234 5678", "MX")]
    assert facts.placed_at == int(datetime(2026, 11, 30, 10, tzinfo=UTC).timestamp())
    item = facts.line_items[0]
    assert (item.id, item.product_id, item.variant_id, item.quantity, item.price) == (
        "9001",
        "401",
        "501",
        2,
        Decimal("225.00"),
    )
    assert facts.web is not None and facts.web.fbc == "fb.1.1.abc"


def test_a_refund_reads_as_refunds_create_would() -> None:
    refund = {
        "legacyResourceId": "555",
        "createdAt": "2026-11-30T15:00:00Z",
        "transactions": {
            "nodes": [
                {
                    "kind": "REFUND",
                    "status": "SUCCESS",
                    "amountSet": {"shopMoney": {"amount": "100.00", "currencyCode": "MXN"}},
                },
                {
                    "kind": "REFUND",
                    "status": "FAILURE",
                    "amountSet": {"shopMoney": {"amount": "50.00", "currencyCode": "MXN"}},
                },
            ]
        },
    }
    [found] = rest_refunds(node(1001, "2026-11-30T15:00:00Z", refunds=[refund]))

    facts = shopify.refund_facts(shopify.parse_refund(json.dumps(found)))

    assert (facts.refund_id, facts.order_id) == ("555", "1001")
    assert facts.value is not None and (facts.value.amount, facts.value.currency) == (
        Decimal("100.00"),
        "MXN",
    )


def test_a_paid_cancelled_refunded_order_stands_for_its_three_webhooks() -> None:
    order = node(
        1001,
        "2026-11-30T15:00:00Z",
        displayFinancialStatus="PARTIALLY_REFUNDED",
        cancelledAt="2026-11-30T14:00:00Z",
        refunds=[
            {"legacyResourceId": "555", "createdAt": "2026-11-30T15:00:00Z", "transactions": {"nodes": []}}
        ],
    )

    queued = [ShopifyDelivery.model_validate_json(d.body) for d in deliveries_for(SHOP, order)]

    assert [(d.topic, d.shop) for d in queued] == [
        ("orders/paid", SHOP),
        ("orders/cancelled", SHOP),
        ("refunds/create", SHOP),
    ]
    # the purchase is dated when the order was paid, not when it was last touched
    assert queued[0].triggered_at == "2026-11-30T10:00:05Z"
    assert json.loads(queued[2].body)["order_id"] == "1001"


def test_an_unpaid_order_is_an_orders_create() -> None:
    [queued] = deliveries_for(SHOP, node(7, "2026-11-30T10:00:00Z", displayFinancialStatus="PENDING"))

    assert ShopifyDelivery.model_validate_json(queued.body).topic == "orders/create"


# -- the cursor ---------------------------------------------------------------------------------------


class Cursors:
    def __init__(self, cursor: str | None = None) -> None:
        self.cursor = cursor

    def current(self, shop: str) -> str | None:
        return self.cursor

    def advance(self, shop: str, cursor: str, recorded_at: int) -> bool:
        if self.cursor is not None and self.cursor >= cursor:
            return False
        self.cursor = cursor
        return True


class Queue:
    def __init__(self, fail_on_call: int | None = None) -> None:
        self.sent: list[list[Delivery]] = []
        self.fail_on_call = fail_on_call

    def send(self, deliveries: list[Delivery]) -> None:
        if self.fail_on_call == len(self.sent) + 1:
            raise HandoffError("Could not queue reconciled orders: EndpointConnectionError")
        self.sent.append(deliveries)


class Pages:
    def __init__(self, *pages: tuple[list[dict[str, Any]], str | None, bool]) -> None:
        self.pages = list(pages)
        self.asked: list[tuple[datetime, str | None]] = []

    def orders_page(self, since: datetime, after: str | None, first: int = 10) -> Any:
        from wa_conversions.providers.shopify_admin import OrdersPage

        self.asked.append((since, after))
        nodes, end, more = self.pages.pop(0)
        return OrdersPage(nodes, end, more)


def reconciler(cursors: Cursors, queue: Queue) -> Reconciler:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return Reconciler(cursors, queue, lookback=timedelta(days=7), now=lambda: now)  # type: ignore[arg-type]


def test_every_page_is_queued_and_the_cursor_ends_at_the_last_update() -> None:
    cursors, queue = Cursors(), Queue()
    pages = Pages(
        ([node(1, "2026-11-30T10:00:00Z"), node(2, "2026-11-30T11:00:00Z")], "c2", True),
        ([node(3, "2026-11-30T12:30:00+00:00")], "c3", False),
    )

    result = reconciler(cursors, queue).run(SHOP, pages)  # type: ignore[arg-type]

    assert result.status == "done" and (result.pages, result.orders) == (2, 3)
    assert [len(batch) for batch in queue.sent] == [2, 1]
    assert cursors.cursor == "2026-11-30T12:30:00Z"
    # a shop never reconciled starts the lookback back; the second page follows the first's cursor
    assert pages.asked == [
        (datetime(2026, 11, 24, tzinfo=UTC), None),
        (datetime(2026, 11, 24, tzinfo=UTC), "c2"),
    ]


def test_the_cursor_does_not_move_past_a_page_that_was_not_queued() -> None:
    cursors, queue = Cursors(), Queue(fail_on_call=2)
    pages = Pages(
        ([node(1, "2026-11-30T10:00:00Z")], "c1", True),
        ([node(2, "2026-11-30T11:00:00Z")], "c2", False),
    )

    result = reconciler(cursors, queue).run(SHOP, pages)  # type: ignore[arg-type]

    assert result.status == "failed" and "EndpointConnectionError" in str(result.reason)
    assert cursors.cursor == "2026-11-30T10:00:00Z"


def test_a_run_goes_on_from_the_cursor_a_little_behind_it_and_never_moves_it_back() -> None:
    cursors, queue = Cursors("2026-11-30T12:00:00Z"), Queue()
    pages = Pages(([node(1, "2026-11-30T11:55:00Z")], "c1", False))

    reconciler(cursors, queue).run(SHOP, pages)  # type: ignore[arg-type]

    assert pages.asked[0][0] == datetime(2026, 11, 30, 12, tzinfo=UTC) - OVERLAP
    assert len(queue.sent) == 1 and cursors.cursor == "2026-11-30T12:00:00Z"


def test_a_throttle_past_the_deadline_leaves_the_rest_for_the_next_run() -> None:
    class Throttled(Pages):
        def orders_page(self, since: datetime, after: str | None, first: int = 10) -> Any:
            if after is not None:
                raise AdminApiUnavailable("Shopify asks to wait 30.0 s, past this run's deadline")
            return super().orders_page(since, after, first)

    cursors, queue = Cursors(), Queue()
    pages = Throttled(([node(1, "2026-11-30T10:00:00Z")], "c1", True))

    result = reconciler(cursors, queue).run(SHOP, pages)  # type: ignore[arg-type]

    assert result.status == "partial" and cursors.cursor == "2026-11-30T10:00:00Z"


def test_the_on_demand_request_names_a_configured_shop_and_a_time() -> None:
    shops = [SHOP, "brand-b.myshopify.com"]

    assert parse_request({}, shops).shops == shops
    one = parse_request({"shop": "Brand-B.myshopify.com", "since": "2026-11-20"}, shops)
    assert one.shops == ["brand-b.myshopify.com"] and one.since == datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_request({"shop": "other.myshopify.com"}, shops).errors
    assert parse_request({"since": "last week"}, shops).errors


def test_a_run_with_too_little_time_left_asks_for_no_page() -> None:
    cursors, queue = Cursors(), Queue()
    pages = Pages()
    now = datetime(2026, 12, 1, tzinfo=UTC)
    short = Reconciler(cursors, queue, lookback=timedelta(days=7), now=lambda: now, deadline=lambda: 10.0)  # type: ignore[arg-type]

    result = short.run(SHOP, pages)  # type: ignore[arg-type]

    assert result.status == "partial" and pages.asked == [] and cursors.cursor is None


def test_the_local_stack_puts_each_listed_shops_token_where_the_function_reads_it() -> None:
    from pathlib import Path

    from devstack.envfile import named_secrets, parse_env_file
    from wa_conversions.config import ShopifyReconcileSettings

    env = parse_env_file(Path(__file__).resolve().parents[2] / "local.env")
    settings = ShopifyReconcileSettings.model_validate(
        {"TABLE_NAME": "t", "ORDERS_QUEUE_URL": "q", "PARAMETER_PREFIX": "/wa-conversions", **env}
    )

    secrets = named_secrets("wa-conversions", env)

    assert settings.shop_list()
    for shop in settings.shop_list():
        assert settings.parameter_name(f"shopify/{shop}/admin-token") in secrets
