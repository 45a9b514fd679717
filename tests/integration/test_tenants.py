"""Tenants against moto (docs/tenants.md): the tenant list read from SSM by the real handlers; here,
reconciliation reading the shops the tenants list as well as ShopifyShops."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
import respx

from tests.integration.conftest import PREFIX, CaptureHarness
from wa_conversions import reset

LISTED_SHOP = "brand-a.myshopify.com"
TENANT_SHOP = "brand-c.myshopify.com"


@pytest.fixture
def reconcile(harness: CaptureHarness, monkeypatch: pytest.MonkeyPatch) -> Iterator[CaptureHarness]:
    orders_url = boto3.client("sqs").create_queue(QueueName="orders")["QueueUrl"]
    monkeypatch.setenv("ORDERS_QUEUE_URL", orders_url)
    monkeypatch.setenv("SHOPIFY_SHOPS", LISTED_SHOP)
    with respx.mock(assert_all_called=False):  # no token for either shop: nothing is asked of Shopify
        yield harness


def test_a_shop_only_a_tenant_lists_is_reconciled_too(reconcile: CaptureHarness) -> None:
    with pytest.raises(ValueError, match="not in ShopifyShops"):
        reconcile.invoke("shopify_reconcile", {"shop": TENANT_SHOP})
    tenants = [{"id": "brand-c", "shops": [TENANT_SHOP]}]
    boto3.client("ssm").put_parameter(
        Name=f"{PREFIX}/tenants", Value=json.dumps(tenants), Type="SecureString", Overwrite=True
    )
    reset()  # as a new execution environment would, once the five-minute cache is over

    result = reconcile.invoke("shopify_reconcile", {})

    by_shop = {r["shop"]: r["status"] for r in result["shops"]}
    assert by_shop == {LISTED_SHOP: "skipped", TENANT_SHOP: "skipped"}  # skipped: no Admin API tokens
