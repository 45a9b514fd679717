"""Reconciliation on the local stack: an order that only the Admin API stand-in has (its webhooks never
came) is found by `make reconcile`, attributed and forwarded once; its webhooks arriving afterwards,
or a second run, change nothing."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from devstack.__main__ import main as devstack_main
from devstack.sample_events import read_env
from devstack.shopify_samples import shopify_headers
from devstack.stack import DevStack
from tests.support import attribution as sc
from wa_conversions.signatures import meta_signature

pytestmark = pytest.mark.e2e

ENV = read_env()
SHOP = ENV["SHOPIFY_SHOP_DOMAIN"]
DESTINATIONS = ("wax", "meta", "cm", "dialog360", "collector")


@pytest.fixture
def standins(stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.standins.url, timeout=10.0) as client:
        client.delete("/_shopify")
        client.delete("/_faults")
        yield client
        client.delete("/_shopify")
        client.delete("/_faults")


@pytest.fixture
def operator(api: httpx.Client) -> httpx.Client:
    api.headers["X-Api-Key"] = ENV["API_KEY"]
    return api


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def admin_order(
    order_id: int, *, phone: str | None, placed: float, refund_id: int | None = None
) -> dict[str, Any]:
    """An order as the Admin GraphQL API returns it (the query of wa_conversions.providers.shopify_admin)."""
    refunds = []
    if refund_id is not None:
        refunds.append(
            {
                "legacyResourceId": str(refund_id),
                "createdAt": iso(placed + 600),
                "transactions": {
                    "nodes": [
                        {
                            "kind": "REFUND",
                            "status": "SUCCESS",
                            "amountSet": {"shopMoney": {"amount": "20.00", "currencyCode": "USD"}},
                        }
                    ]
                },
            }
        )
    return {
        "legacyResourceId": str(order_id),
        "name": f"#{order_id}",
        "email": None,
        "phone": None,
        "test": False,
        "createdAt": iso(placed),
        "processedAt": iso(placed),
        "updatedAt": iso(placed + 600),
        "cancelledAt": None,
        "cancelReason": None,
        "displayFinancialStatus": "PARTIALLY_REFUNDED" if refunds else "PAID",
        "currencyCode": "USD",
        "presentmentCurrencyCode": "USD",
        "totalPriceSet": {
            "shopMoney": {"amount": "120.00", "currencyCode": "USD"},
            "presentmentMoney": {"amount": "120.00", "currencyCode": "USD"},
        },
        "customAttributes": [],
        "customer": None,
        "billingAddress": {"phone": phone, "countryCodeV2": "US"},
        "shippingAddress": None,
        "lineItems": {
            "nodes": [
                {
                    "id": "gid://shopify/LineItem/1",
                    "sku": "SKU-1",
                    "title": "Mug",
                    "quantity": 1,
                    "variant": {"legacyResourceId": "11"},
                    "product": {"legacyResourceId": "12"},
                    "originalUnitPriceSet": {"shopMoney": {"amount": "120.00"}},
                }
            ]
        },
        "refunds": refunds,
    }


def reconcile(stack: DevStack, capsys: pytest.CaptureFixture[str], since: str) -> dict[str, Any]:
    """`make reconcile SHOP=... SINCE=...` against this stack."""
    capsys.readouterr()
    assert devstack_main(["reconcile", "--api-url", stack.api_url, "--shop", SHOP, "--since", since]) == 0
    printed: dict[str, Any] = json.loads(capsys.readouterr().out)
    stack.wait_until_idle(timeout=60)
    return printed


def forwarded(standins: httpx.Client, order_id: int) -> list[tuple[str, str]]:
    """(destination, body) of every request the destinations got that names the order."""
    return sorted(
        (r["destination"], json.dumps(r["body"], sort_keys=True))
        for r in standins.get("/_requests").json()
        if r["destination"] in DESTINATIONS and str(order_id) in json.dumps(r["body"])
    )


def post_webhook(api: httpx.Client, payload: dict[str, Any], topic: str) -> None:
    body = sc.encode(payload)
    headers = shopify_headers(
        body, ENV["SHOPIFY_WEBHOOK_SECRET"], shop=SHOP, topic=topic, event_id=str(uuid.uuid4())
    )
    response = api.post("/webhooks/shopify", content=body, headers=headers)
    assert response.json() == {"status": "accepted"}


def test_an_order_only_the_admin_api_has_is_reconciled_once_and_its_late_webhooks_change_nothing(
    stack: DevStack,
    api: httpx.Client,
    operator: httpx.Client,
    standins: httpx.Client,
    capsys: pytest.CaptureFixture[str],
) -> None:
    line, exchange = random.randint(1000, 9999), random.randint(200, 999)
    wa_id, national = f"1415{exchange}{line}", f"(415) {exchange}-{line}"
    now = time.time()
    clicked, placed = int(now - 3600), now - 1800
    click = sc.referral_webhook(wa_id, clicked, "CLID-RECONCILE", f"wamid.{uuid.uuid4().hex}")
    signature = meta_signature(click, ENV["WHATSAPP_APP_SECRET"])
    assert (
        api.post("/webhooks/whatsapp", content=click, headers={"X-Hub-Signature-256": signature}).status_code
        == 200
    )
    stack.wait_until_idle()

    missed, refund_id = random.randint(10**11, 10**12), random.randint(10**11, 10**12)
    others = [random.randint(10**11, 10**12) for _ in range(2)]
    orders = [admin_order(missed, phone=national, placed=placed, refund_id=refund_id)]
    orders += [admin_order(o, phone=None, placed=placed + 60 * i) for i, o in enumerate(others)]
    # two orders a page, and the first query answered THROTTLED: both must be honoured
    spec = {"orders": {SHOP: orders}, "page_size": 2, "throttle": 1}
    assert standins.post("/_shopify", json=spec).status_code == 200
    standins.delete("/_requests")

    printed = reconcile(stack, capsys, iso(now - 7200))

    [shop] = printed["shops"]
    assert (shop["shop"], shop["status"], shop["orders"], shop["pages"]) == (SHOP, "done", 3, 2)
    admin_calls = [r for r in standins.get("/_requests").json() if r["destination"] == "shopify"]
    assert len(admin_calls) == 3  # the throttled query, asked again, then the second page
    record = operator.get(f"/orders/{missed}").json()
    assert record["attribution"]["status"] == "attributed"
    assert record["attribution"]["ctwa_clid"] == "CLID-RECONCILE"
    assert record["attribution"]["contact_key"] == wa_id
    assert sorted(f["kind"] for f in record["follow_ups"]) == ["order_paid", "refund"]
    sent = forwarded(standins, missed)
    assert sent, "the reconciled order reached no destination"
    assert {destination for destination, _ in sent} >= {"wax", "meta"}
    # each event once per destination
    assert len(sent) == len(set(sent))

    # The webhooks Shopify would have sent, arriving late, and a second run: nothing new anywhere.
    webhook_order = sc.order(order_id=missed, created_at=int(placed), phone=national)
    post_webhook(api, webhook_order, "orders/create")
    post_webhook(api, {**webhook_order, "financial_status": "paid"}, "orders/paid")
    post_webhook(
        api, sc.refund(refund_id=refund_id, order_id=missed, created_at=int(placed + 600)), "refunds/create"
    )
    stack.wait_until_idle(timeout=60)
    again = reconcile(stack, capsys, iso(now - 7200))

    assert again["shops"][0]["status"] == "done"
    assert forwarded(standins, missed) == sent
    after = operator.get(f"/orders/{missed}").json()
    assert after["attribution"] == record["attribution"]
    assert after["follow_ups"] == record["follow_ups"]
    assert after["event"] == record["event"]
