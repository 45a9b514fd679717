"""Shopify's mandatory compliance webhooks applied (privacy.shopify), from the docs' sample payloads:
customers/redact erases the customer's contact and keeps their orders' amounts, shop/redact deletes the
shop's orders, customers/data_request writes an export; each safe to repeat."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import store_tables
from tests.support import webhooks as wh
from tests.support.store_tables import IDEMPOTENCY, TABLE
from wa_conversions.models.domain import ContactRef
from wa_conversions.privacy.erasure import EXPORT_MAX_BYTES, Eraser
from wa_conversions.privacy.shopify import ComplianceOutcome, apply_compliance, parsed_outcome
from wa_conversions.store import keys
from wa_conversions.store.capture import CaptureRepository
from wa_conversions.store.emails import ContactEmails

SHOP = "wa-conversions-dev.myshopify.com"
DOCS_PHONE = "15556251199"  # the docs' customer phone, 555-625-1199, in the US
NOW = 1_750_300_000


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from store_tables.moto_tables(monkeypatch)


def sample(topic: str) -> dict[str, Any]:
    return wh.sample_json(f"shopify_docs_{topic.replace('/', '_')}.json")


def apply(client: Any, topic: str, body: dict[str, Any], region: str | None = "US") -> ComplianceOutcome:
    eraser = Eraser(client, TABLE, IDEMPOTENCY, hash_key="k", tombstone_ttl_seconds=86_400, clock=lambda: NOW)
    return apply_compliance(
        topic,
        "ignored-when-the-body-names-it.myshopify.com",
        json.dumps(body),
        eraser=eraser,
        repository=CaptureRepository(client, TABLE),
        region=region,
        now=NOW,
    )


def the_docs_customer(client: Any) -> None:
    """The docs' customer as a contact who wrote in, with the CRM's email and order 299938 credited."""
    CaptureRepository(client, TABLE).upsert_contact(
        ContactRef(phone=DOCS_PHONE, name="John Smith"),
        DOCS_PHONE,
        first_seen=NOW,
        last_inbound=NOW,
        update_key="msg:1",
    )
    ContactEmails(client, TABLE).remember([(DOCS_PHONE, "john@example.com")], "crm")
    store_tables.order(client, SHOP, "299938", contact_key=DOCS_PHONE, email="john@example.com", phone=None)


def test_customers_redact_erases_the_customers_contact_and_keeps_the_orders_amount(client: Any) -> None:
    the_docs_customer(client)

    outcome = apply(client, "customers/redact", sample("customers/redact"))

    assert (outcome.topic, outcome.outcome) == ("customers/redact", "erased")
    erasure = store_tables.stored(client, keys.erasure_pk(str(outcome.reference)), keys.ERASURE)
    assert erasure is not None and erasure["reason"] == "shopify:customers/redact"
    assert CaptureRepository(client, TABLE).get_contact(DOCS_PHONE) is None
    order = store_tables.stored(client, keys.order_pk(SHOP, "299938"), keys.ORDER)
    assert order is not None and order["value"] == "25.50"
    assert "john@example.com" not in json.dumps(store_tables.everything(client))


def test_customers_redact_redelivered_is_the_same_erasure(client: Any) -> None:
    the_docs_customer(client)
    first = apply(client, "customers/redact", sample("customers/redact"))

    again = apply(client, "customers/redact", sample("customers/redact"))

    assert again == first


def test_a_customer_whose_phone_cannot_be_read_is_still_found_by_their_email(client: Any) -> None:
    the_docs_customer(client)

    outcome = apply(client, "customers/redact", sample("customers/redact"), region=None)

    assert outcome.outcome == "erased"
    assert CaptureRepository(client, TABLE).get_contact(DOCS_PHONE) is None


def test_customers_redact_of_a_customer_never_held_changes_nothing(client: Any) -> None:
    body = {**sample("customers/redact"), "customer": {"id": 1, "email": "  ", "phone": "not a phone"}}

    outcome = apply(client, "customers/redact", {**body, "orders_to_redact": []})

    assert (outcome.outcome, outcome.reference) == ("nothing_held", None)
    assert store_tables.everything(client) == []


def test_shop_redact_deletes_the_shop_named_in_the_body_whatever_its_case(client: Any) -> None:
    the_docs_customer(client)
    body = {**sample("shop/redact"), "shop_domain": SHOP.upper()}

    outcome = apply(client, "shop/redact", body)

    assert outcome.outcome == "erased"
    assert store_tables.stored(client, keys.order_pk(SHOP, "299938"), keys.ORDER) is None
    assert CaptureRepository(client, TABLE).get_contact(DOCS_PHONE) is not None  # a contact is no shop's


def test_a_data_request_writes_the_customers_export_under_its_request_id(client: Any) -> None:
    the_docs_customer(client)

    outcome = apply(client, "customers/data_request", sample("customers/data_request"))

    assert (outcome.outcome, outcome.reference) == ("exported", f"EXPORT#{SHOP}#9999")
    item = store_tables.stored(client, f"EXPORT#{SHOP}#9999", keys.EXPORT)
    assert item is not None and item["expires_at"] == NOW + 30 * 86_400
    document = json.loads(item["document"])
    assert (document["shop"], document["customer_id"], document["data_request_id"]) == (
        SHOP,
        "191167",
        "9999",
    )
    assert document["held"]["contact"][0]["name"] == "John Smith"
    assert document["held"]["order"][0]["email"] == "john@example.com"


def test_a_data_request_about_nobody_held_exports_an_empty_document(client: Any) -> None:
    body = {**sample("customers/data_request"), "customer": {"id": 5}, "orders_requested": []}

    outcome = apply(client, "customers/data_request", body)

    item = store_tables.stored(client, f"EXPORT#{SHOP}#9999", keys.EXPORT)
    assert outcome.outcome == "exported" and item is not None
    assert json.loads(item["document"])["held"] == {}


def test_a_data_request_too_large_for_one_item_says_so(client: Any) -> None:
    CaptureRepository(client, TABLE).upsert_contact(
        ContactRef(phone=DOCS_PHONE, name="J" * (EXPORT_MAX_BYTES + 10)),
        DOCS_PHONE,
        first_seen=NOW,
        last_inbound=NOW,
        update_key="msg:1",
    )

    outcome = apply(client, "customers/data_request", sample("customers/data_request"))

    item = store_tables.stored(client, f"EXPORT#{SHOP}#9999", keys.EXPORT)
    assert outcome.outcome == "export_too_large" and item is not None
    assert item["status"] == "failed" and "document" not in item


def test_what_is_logged_names_the_topic_the_outcome_and_where_never_the_person() -> None:
    outcome = ComplianceOutcome("customers/data_request", "exported", f"EXPORT#{SHOP}#9999")

    assert parsed_outcome(outcome) == {
        "topic": "customers/data_request",
        "outcome": "exported",
        "reference": f"EXPORT#{SHOP}#9999",
    }
