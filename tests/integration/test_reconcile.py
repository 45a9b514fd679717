"""ShopifyReconcileFunction against moto, with Shopify's Admin API played by respx: the per-shop token from
SSM, the orders queued as webhooks are and applied by the real orders processor, the cursor kept in
DynamoDB (with its TTL) and never moved back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
import respx

from tests.integration.conftest import PREFIX, TABLE, CaptureHarness
from tests.support.lambdas import sqs_event
from tests.unit.test_reconcile import node, page

SHOP = "brand-a.myshopify.com"
NO_TOKEN_SHOP = "brand-b.myshopify.com"
ADMIN_URL = f"https://{SHOP}/admin/api/2026-01/graphql.json"


@pytest.fixture
def reconcile(
    harness: CaptureHarness, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[CaptureHarness, str, respx.MockRouter]]:
    orders_url = boto3.client("sqs").create_queue(QueueName="orders")["QueueUrl"]
    boto3.client("ssm").put_parameter(
        Name=f"{PREFIX}/shopify/{SHOP}/admin-token", Value="shpat_a", Type="SecureString", Overwrite=True
    )
    monkeypatch.setenv("ORDERS_QUEUE_URL", orders_url)
    monkeypatch.setenv("SHOPIFY_SHOPS", f"{SHOP},{NO_TOKEN_SHOP}")
    # every request not routed by the test fails: nothing reaches the network
    with respx.mock(assert_all_called=False) as router:
        yield harness, orders_url, router


def queued(orders_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=orders_url, MaxNumberOfMessages=10).get("Messages", []):
        found.extend(messages)
        for message in messages:
            sqs.delete_message(QueueUrl=orders_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def cursor() -> dict[str, Any] | None:
    item = (
        boto3.client("dynamodb")
        .get_item(TableName=TABLE, Key={"pk": {"S": f"RECONCILE#{SHOP}"}, "sk": {"S": "CURSOR"}})
        .get("Item")
    )
    return item


def test_a_shops_orders_are_queued_applied_and_its_cursor_kept(
    reconcile: tuple[CaptureHarness, str, respx.MockRouter],
) -> None:
    harness, orders_url, router = reconcile
    route = router.post(ADMIN_URL).mock(
        return_value=httpx.Response(200, json=page([node(4242, "2026-11-30T12:00:00Z")], "c1", False))
    )

    result = harness.invoke("shopify_reconcile", {"since": "2026-11-30T00:00:00Z"})

    by_shop = {r["shop"]: r for r in result["shops"]}
    assert by_shop[SHOP]["status"] == "done" and by_shop[SHOP]["orders"] == 1
    assert by_shop[NO_TOKEN_SHOP]["status"] == "skipped"
    assert f"{PREFIX}/shopify/{NO_TOKEN_SHOP}/admin-token" in by_shop[NO_TOKEN_SHOP]["reason"]
    assert route.calls[0].request.headers["X-Shopify-Access-Token"] == "shpat_a"
    [message] = queued(orders_url)
    delivery = json.loads(message["Body"])
    assert (delivery["topic"], delivery["shop"]) == ("orders/paid", SHOP)
    applied = harness.invoke("orders_processor", sqs_event([message["Body"]]))
    assert applied == {"batchItemFailures": []}
    order = (
        boto3.client("dynamodb")
        .get_item(TableName=TABLE, Key={"pk": {"S": f"ORDER#{SHOP}#4242"}, "sk": {"S": "ORDER"}})
        .get("Item")
    )
    assert order is not None, "the reconciled order was not stored"
    stored = cursor()
    assert stored is not None and stored["cursor"]["S"] == "2026-11-30T12:00:00Z"
    assert int(stored["expires_at"]["N"]) > 0


def test_a_run_from_further_back_does_not_move_the_cursor_back(
    reconcile: tuple[CaptureHarness, str, respx.MockRouter],
) -> None:
    harness, orders_url, router = reconcile
    router.post(ADMIN_URL).mock(
        side_effect=[
            httpx.Response(200, json=page([node(1, "2026-11-30T12:00:00Z")], "c1", False)),
            httpx.Response(200, json=page([node(2, "2026-11-20T08:00:00Z")], "c2", False)),
        ]
    )

    harness.invoke("shopify_reconcile", {"shop": SHOP})
    harness.invoke("shopify_reconcile", {"shop": SHOP, "since": "2026-11-19"})

    assert len(queued(orders_url)) == 2
    stored = cursor()
    assert stored is not None and stored["cursor"]["S"] == "2026-11-30T12:00:00Z"


def test_a_shop_not_configured_is_refused_with_its_reason(
    reconcile: tuple[CaptureHarness, str, respx.MockRouter],
) -> None:
    harness, _, _ = reconcile

    with pytest.raises(ValueError, match="not in ShopifyShops"):
        harness.invoke("shopify_reconcile", {"shop": "stranger.myshopify.com"})
