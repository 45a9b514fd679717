"""Shopify's Admin GraphQL client (providers.shopify_admin) through respx: the failures test_reconcile.py
leaves out, retries to their end, refusals, pacing without cost data, and the REST shape's edges."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx

from wa_conversions.providers import shopify
from wa_conversions.providers.shopify_admin import (
    MAX_ATTEMPTS,
    AdminApiError,
    AdminApiUnavailable,
    AdminClient,
    OrdersPage,
    iso,
    parse_time,
    rest_order,
    rest_refunds,
    search_since,
)

SHOP = "brand-b.myshopify.com"
URL = f"https://{SHOP}/admin/api/2026-01/graphql.json"
SINCE = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)


class Waits:
    """The client's sleeps, none of them real, against a deadline that is `left` seconds away."""

    def __init__(self, left: float = 600.0) -> None:
        self.left = left
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def deadline(self) -> float:
        return self.left


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mocked:
        yield mocked


@pytest.fixture
def http(router: respx.MockRouter) -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def admin(http: httpx.Client, waits: Waits, **options: Any) -> AdminClient:
    return AdminClient(
        http, shop=SHOP, token="shpat_b", deadline=waits.deadline, sleep=waits.sleep, **options
    )


def orders(nodes: list[Any], *, end: str | None = None, more: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "data": {"orders": {"nodes": nodes, "pageInfo": {"hasNextPage": more, "endCursor": end}}},
        **extra,
    }


# -- times --------------------------------------------------------------------------------------------


def test_the_search_is_in_utc_whatever_zone_the_moment_is_in() -> None:
    mexico = datetime(2026, 12, 1, 2, 30, tzinfo=timezone(timedelta(hours=-6)))
    assert search_since(mexico) == "updated_at:>='2026-12-01T08:30:00Z'"
    assert iso(mexico) == "2026-12-01T08:30:00Z"


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01T08:30:00Z",
        " 2026-12-01T08:30:00 ",
        "2026-12-01T10:30:00+02:00",
        "2026-12-01T08:30:00.000Z",
    ],
)
def test_times_are_read_as_utc_with_or_without_an_offset(text: str) -> None:
    assert parse_time(text) == SINCE


def test_a_bare_date_is_midnight_utc() -> None:
    assert parse_time("2026-12-01") == datetime(2026, 12, 1, tzinfo=UTC)


# -- the client -----------------------------------------------------------------------------------------


def test_a_stand_in_is_asked_under_its_base_url_for_the_version_given(
    router: respx.MockRouter, http: httpx.Client
) -> None:
    route = router.post(f"http://localhost:4566/shopify/{SHOP}/admin/api/2025-10/graphql.json").mock(
        return_value=httpx.Response(
            200, json=orders([{"legacyResourceId": "1"}, "junk", None], end="c9", more=True)
        )
    )
    found = admin(
        http, Waits(), base_url="http://localhost:4566/shopify/", api_version="2025-10"
    ).orders_page(SINCE, "c8", first=3)
    assert found == OrdersPage(orders=[{"legacyResourceId": "1"}], end_cursor="c9", has_next_page=True)
    assert json.loads(route.calls[0].request.content)["variables"]["after"] == "c8"
    assert json.loads(route.calls[0].request.content)["variables"]["first"] == 3


def test_an_unreachable_api_is_retried_with_growing_waits_then_given_up(
    router: respx.MockRouter, http: httpx.Client
) -> None:
    route = router.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    waits = Waits()
    with pytest.raises(AdminApiUnavailable, match="unreachable: ConnectError"):
        admin(http, waits).orders_page(SINCE, None)
    assert route.call_count == MAX_ATTEMPTS
    assert waits.slept == [2.0, 4.0, 6.0, 8.0, 10.0]


def test_a_failing_api_is_retried_to_its_last_attempt_then_named_by_its_status(
    router: respx.MockRouter, http: httpx.Client
) -> None:
    router.post(URL).mock(return_value=httpx.Response(503))
    with pytest.raises(AdminApiUnavailable, match="answered 503"):
        admin(http, Waits()).orders_page(SINCE, None)


def test_a_server_error_then_an_answer_is_an_answer(router: respx.MockRouter, http: httpx.Client) -> None:
    router.post(URL).mock(side_effect=[httpx.Response(502), httpx.Response(200, json=orders([]))])
    waits = Waits()
    assert admin(http, waits).orders_page(SINCE, None).orders == []
    assert waits.slept == [2.0]


@pytest.mark.parametrize(("retry_after", "waited"), [("soon", [2.0]), ("-3", []), ("0.5", [0.5])])
def test_a_retry_after_that_is_no_wait_is_read_as_the_default_or_none(
    router: respx.MockRouter, http: httpx.Client, retry_after: str, waited: list[float]
) -> None:
    router.post(URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": retry_after}),
            httpx.Response(200, json=orders([])),
        ]
    )
    waits = Waits()
    admin(http, waits).orders_page(SINCE, None)
    assert waits.slept == waited


def test_a_throttle_that_never_ends_gives_up_for_this_run(
    router: respx.MockRouter, http: httpx.Client
) -> None:
    throttled = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
    route = router.post(URL).mock(return_value=httpx.Response(200, json=throttled))
    waits = Waits()
    with pytest.raises(AdminApiUnavailable, match="still throttled"):
        admin(http, waits).orders_page(SINCE, None)
    assert route.call_count == MAX_ATTEMPTS
    assert waits.slept == [1.0] * (MAX_ATTEMPTS - 1)  # without cost data, a second each


def test_graphql_errors_are_a_refusal_naming_their_codes(
    router: respx.MockRouter, http: httpx.Client
) -> None:
    errors = [
        {"message": "Access denied for orders", "extensions": {"code": "ACCESS_DENIED"}},
        {"message": "Field 'x' doesn't exist"},
        "not an object",
    ]
    route = router.post(URL).mock(return_value=httpx.Response(200, json={"errors": errors}))
    with pytest.raises(AdminApiError, match=r"refused the query: ACCESS_DENIED, error$"):
        admin(http, Waits()).orders_page(SINCE, None)
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(200, text="<html>maintenance</html>"), "not JSON"),
        (httpx.Response(200, json={"data": None}), "without data.orders"),
        (httpx.Response(200, json={"data": {"orders": []}}), "without data.orders"),
        (httpx.Response(403), "answered 403"),
    ],
)
def test_an_answer_without_orders_is_an_error(
    router: respx.MockRouter, http: httpx.Client, response: httpx.Response, message: str
) -> None:
    router.post(URL).mock(return_value=response)
    with pytest.raises(AdminApiError, match=message):
        admin(http, Waits()).orders_page(SINCE, None)


def test_a_pacing_wait_past_the_deadline_is_not_slept(router: respx.MockRouter, http: httpx.Client) -> None:
    cost = {"requestedQueryCost": 1000, "throttleStatus": {"currentlyAvailable": 0, "restoreRate": 50}}
    router.post(URL).mock(return_value=httpx.Response(200, json=orders([], extensions={"cost": cost})))
    waits = Waits(left=10.0)
    client = admin(http, waits)
    client.orders_page(SINCE, None)
    with pytest.raises(AdminApiUnavailable, match=r"wait 20\.0 s"):
        client.orders_page(SINCE, None)
    assert waits.slept == []


def test_a_bucket_that_does_not_refill_waits_the_default(
    router: respx.MockRouter, http: httpx.Client
) -> None:
    cost = {"requestedQueryCost": 100, "throttleStatus": {"currentlyAvailable": 0, "restoreRate": 0}}
    throttled = {"errors": [{"extensions": {"code": "THROTTLED"}}], "extensions": {"cost": cost}}
    router.post(URL).mock(
        side_effect=[httpx.Response(200, json=throttled), httpx.Response(200, json=orders([]))]
    )
    waits = Waits()
    admin(http, waits).orders_page(SINCE, None)
    assert waits.slept == [1.0]


# -- the REST shape -------------------------------------------------------------------------------------


def test_a_guest_order_with_little_filled_in_still_reads_as_an_order() -> None:
    node = {
        "legacyResourceId": "42",
        "cancelReason": "CUSTOMER",
        "clientIp": "203.0.113.9",
        "customer": None,
        "lineItems": [{"id": None, "quantity": None, "variant": None}],
    }
    rest = rest_order(node)
    assert (rest["customer"], rest["total_price_set"], rest["total_price"]) == (None, None, None)
    assert (rest["cancel_reason"], rest["client_details"], rest["test"]) == (
        "customer",
        {"browser_ip": "203.0.113.9"},
        False,
    )
    facts = shopify.order_facts(shopify.parse_order(json.dumps(rest)))
    assert (facts.order_id, facts.value, facts.web.client_ip if facts.web else None) == (
        "42",
        None,
        "203.0.113.9",
    )
    [line] = facts.line_items
    assert (line.id, line.variant_id, line.quantity) == (None, None, 0)


def test_the_landing_page_and_referrer_of_the_first_visit_carry_the_link_tokens_place() -> None:
    journey = {
        "firstVisit": {"landingPage": "https://shop.example/?wac=abc", "referrerUrl": "https://l.wl.co/"}
    }
    rest = rest_order({"legacyResourceId": "7", "customerJourneySummary": journey})
    assert (rest["landing_site"], rest["referring_site"]) == (
        "https://shop.example/?wac=abc",
        "https://l.wl.co/",
    )


def test_refunds_without_an_id_are_left_out_and_the_others_name_their_order() -> None:
    node = {
        "legacyResourceId": "7",
        "refunds": [
            {"createdAt": "2026-12-01T09:00:00Z"},
            "junk",
            {
                "legacyResourceId": "9",
                "note": "damaged",
                "transactions": [{"kind": "REFUND", "status": None}],
            },
        ],
    }
    [found] = rest_refunds(node)
    assert (found["id"], found["order_id"], found["note"]) == ("9", "7", "damaged")
    assert found["transactions"] == [{"kind": "refund", "status": None, "amount": None, "currency": None}]
    assert rest_refunds({"legacyResourceId": "7", "refunds": None}) == []
