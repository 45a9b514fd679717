"""The single table and the idempotency table in moto, built from template.yaml, for the unit tests of
the store's repositories and of privacy (tests/unit/test_store_*.py, tests/unit/test_privacy_*.py),
with the few reads those tests make of what a repository wrote."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support.cfn import create_table, load_template
from wa_conversions.store.attribution import AttributionRepository
from wa_conversions.store.dynamo import from_item, to_item

TABLE = "unit-table"
IDEMPOTENCY = "unit-idempotency"
_NAMES = {"Table": TABLE, "IdempotencyTable": IDEMPOTENCY}
_CREDENTIALS = (
    ("AWS_DEFAULT_REGION", "us-east-1"),
    ("AWS_ACCESS_KEY_ID", "unit"),
    ("AWS_SECRET_ACCESS_KEY", "unit"),
)


@functools.cache
def _template() -> dict[str, Any]:
    return load_template()


@functools.cache
def client_of(service: str) -> Any:
    """One client per service for the whole run: building one costs more than a test's tables, and a
    client made inside one mock_aws() answers from whichever mock is running when it is called."""
    return boto3.client(service, region_name="us-east-1")  # type: ignore[call-overload]


def moto_tables(monkeypatch: pytest.MonkeyPatch, *tables: str) -> Iterator[Any]:
    """A fixture's body: a DynamoDB client on fresh tables (the template's logical ids; both when none
    is named), AWS itself out of reach."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for variable, value in _CREDENTIALS:
        monkeypatch.setenv(variable, value)
    with mock_aws():
        client = client_of("dynamodb")
        for logical_id in tables or tuple(_NAMES):
            create_table(client, _template(), logical_id, _NAMES[logical_id])
        yield client


def stored(client: Any, pk: str, sk: str) -> dict[str, Any] | None:
    """One item of the single table as the repositories read it, or None."""
    key = {"pk": {"S": pk}, "sk": {"S": sk}}
    raw = client.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")
    return from_item(raw) if raw else None


def everything(client: Any, table: str = TABLE) -> list[dict[str, Any]]:
    """Every item of a table, plain."""
    pages = client.get_paginator("scan").paginate(TableName=table)
    return [from_item(raw) for page in pages for raw in page.get("Items", [])]


def put(client: Any, **attributes: Any) -> None:
    client.put_item(TableName=TABLE, Item=to_item(attributes))


def order(
    client: Any, shop: str, order_id: str, *, contact_key: str | None, email: str | None, phone: str | None
) -> dict[str, Any]:
    """An order stored as attribution stores it: its amount, the ad it is credited to and the buyer."""
    attributes = {
        "shop": shop,
        "order_id": order_id,
        "conversion_id": f"shopify:{shop}:{order_id}",
        "value": "25.50",
        "currency": "EUR",
        "email": email,
        "phone": phone,
        "attribution": {"status": "attributed", "contact_key": contact_key, "source_id": "120226"},
    }
    return AttributionRepository(client, TABLE).create_order(shop, order_id, attributes)
