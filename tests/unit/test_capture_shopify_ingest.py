"""Acknowledging a Shopify webhook (capture.shopify_ingest) against moto's idempotency table and SQS:
the event markers, the queues, which topics go where, the delivery key, and the trimmed order."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devstack.shopify_samples import fixture_order, shopify_headers
from tests.support import store_tables
from tests.support import webhooks as wh
from wa_conversions.attribution.delivery import ShopifyDelivery
from wa_conversions.capture import shopify_ingest
from wa_conversions.capture.shopify_ingest import EventMarkers, OrdersQueue, accept_webhook, delivery_key
from wa_conversions.errors import BadRequestError, HandoffError, UnauthorizedError

SHOP = "brand-a.myshopify.com"
SECRET = "shpss_brand_a"
DAY = 86_400


@dataclass
class Intake:
    dynamodb: Any
    sqs: Any
    orders_url: str
    compliance_url: str

    def markers(self) -> EventMarkers:
        return EventMarkers(self.dynamodb, store_tables.IDEMPOTENCY, ttl_seconds=DAY)

    def accept(
        self, body: bytes, headers: dict[str, str], *, compliance: bool = True
    ) -> shopify_ingest.Outcome:
        return accept_webhook(
            body,
            {name.lower(): value for name, value in headers.items()},
            lambda shop: SECRET if shop == SHOP else None,
            self.markers,
            lambda: OrdersQueue(self.sqs, self.orders_url),
            (lambda: OrdersQueue(self.sqs, self.compliance_url)) if compliance else None,
        )

    def queued(self, url: str) -> list[ShopifyDelivery]:
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [ShopifyDelivery.model_validate_json(m["Body"]) for m in messages]


@pytest.fixture
def intake(monkeypatch: pytest.MonkeyPatch) -> Iterator[Intake]:
    for dynamodb in store_tables.moto_tables(monkeypatch, "IdempotencyTable"):
        sqs = store_tables.client_of("sqs")
        yield Intake(
            dynamodb=dynamodb,
            sqs=sqs,
            orders_url=sqs.create_queue(QueueName="orders")["QueueUrl"],
            compliance_url=sqs.create_queue(QueueName="erasure")["QueueUrl"],
        )


def signed(document: Any, topic: str = "orders/create", **headers: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(document).encode()
    return body, shopify_headers(body, SECRET, shop=SHOP, topic=topic, **headers)


# -- the event markers ----------------------------------------------------------------------------


def test_a_marked_event_is_seen_for_its_shop_only(intake: Intake) -> None:
    markers = intake.markers()
    assert not markers.seen(SHOP, "e-1")
    markers.mark(SHOP, "e-1")
    assert markers.seen(SHOP, "e-1")
    assert not markers.seen("brand-b.myshopify.com", "e-1")
    assert not markers.seen(SHOP, "e-2")
    [item] = store_tables.everything(intake.dynamodb, store_tables.IDEMPOTENCY)
    assert item["status"] == "COMPLETED"
    assert item["expiration"] > time.time()


def test_an_expired_marker_is_not_seen_before_dynamodb_deletes_it(intake: Intake) -> None:
    EventMarkers(intake.dynamodb, store_tables.IDEMPOTENCY, ttl_seconds=-60).mark(SHOP, "e-old")
    assert not intake.markers().seen(SHOP, "e-old")


# -- the queue ----------------------------------------------------------------------------------------


def test_a_queue_that_cannot_take_the_message_is_a_handoff_error_naming_why(intake: Intake) -> None:
    missing = intake.orders_url.rsplit("/", 1)[0] + "/no-such-queue"
    with pytest.raises(HandoffError, match="Could not queue the webhook: QueueDoesNotExist"):
        OrdersQueue(intake.sqs, missing).send("{}")


# -- accepting ------------------------------------------------------------------------------------------


def test_an_order_is_queued_once_and_its_redelivery_is_a_duplicate(intake: Intake) -> None:
    body, headers = signed(fixture_order(), event_id="evt-1", webhook_id="wh-1")
    first = intake.accept(body, headers)
    again = intake.accept(body, headers)
    assert (first.status, again.status) == ("accepted", "duplicate")
    assert (first.shop, first.topic, first.event_id) == (SHOP, "orders/create", "evt-1")
    [delivery] = intake.queued(intake.orders_url)
    assert (delivery.event_id, delivery.webhook_id, delivery.body) == ("evt-1", "wh-1", body.decode())
    assert intake.queued(intake.compliance_url) == []


def test_the_shop_domain_is_read_in_any_case_and_spacing(intake: Intake) -> None:
    body, headers = signed(fixture_order())
    headers["X-Shopify-Shop-Domain"] = "  Brand-A.MyShopify.com "
    assert intake.accept(body, headers).shop == SHOP
    assert intake.queued(intake.orders_url)[0].shop == SHOP


@pytest.mark.parametrize(
    ("sample", "topic"),
    [
        ("shopify_docs_customers_redact.json", "customers/redact"),
        ("shopify_docs_shop_redact.json", "shop/redact"),
    ],
)
def test_compliance_topics_go_to_the_erasure_queue(intake: Intake, sample: str, topic: str) -> None:
    body, headers = signed(wh.sample_json(sample), topic=topic)
    assert intake.accept(body, headers).status == "accepted"
    assert [d.topic for d in intake.queued(intake.compliance_url)] == [topic]
    assert intake.queued(intake.orders_url) == []


def test_without_an_erasure_queue_compliance_topics_go_to_the_orders_queue(intake: Intake) -> None:
    body, headers = signed(
        wh.sample_json("shopify_docs_customers_data_request.json"), "customers/data_request"
    )
    intake.accept(body, headers, compliance=False)
    assert [d.topic for d in intake.queued(intake.orders_url)] == ["customers/data_request"]


def test_a_topic_not_handled_is_acknowledged_and_neither_queued_nor_marked(intake: Intake) -> None:
    body, headers = signed({"id": 1, "title": "Tee"}, topic="products/create", event_id="evt-p")
    outcome = intake.accept(body, headers)
    assert (outcome.status, outcome.topic, outcome.event_id) == ("ignored", "products/create", "evt-p")
    assert intake.queued(intake.orders_url) == []
    assert store_tables.everything(intake.dynamodb, store_tables.IDEMPOTENCY) == []


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("X-Shopify-Shop-Domain", "Missing X-Shopify-Shop-Domain"),
        ("X-Shopify-Hmac-Sha256", "Missing X-Shopify-Hmac"),
    ],
)
def test_a_missing_shop_or_signature_header_is_unauthorized(
    intake: Intake, header: str, message: str
) -> None:
    body, headers = signed(fixture_order())
    del headers[header]
    with pytest.raises(UnauthorizedError, match=message):
        intake.accept(body, headers)


def test_a_signed_body_that_is_no_json_object_is_a_bad_request(intake: Intake) -> None:
    body, headers = signed([fixture_order()])
    with pytest.raises(BadRequestError, match="not a JSON object"):
        intake.accept(body, headers)
    assert intake.queued(intake.orders_url) == []


# -- the delivery key -----------------------------------------------------------------------------------


def test_without_an_event_id_the_topic_and_body_name_the_delivery() -> None:
    body = b'{"id": 450789469}'
    key = delivery_key({"x-shopify-topic": "orders/paid"}, body)
    assert key == "sha256:" + hashlib.sha256(b"orders/paid\n" + body).hexdigest()
    assert delivery_key({"x-shopify-topic": "orders/paid", "x-shopify-event-id": "  "}, body) == key
    assert delivery_key({"x-shopify-topic": "orders/updated"}, body) != key


def test_an_event_id_too_long_for_its_marker_is_refused_naming_the_header() -> None:
    headers = {"x-shopify-event-id": "e" * (shopify_ingest.MAX_EVENT_ID_LENGTH + 1)}
    with pytest.raises(BadRequestError) as raised:
        delivery_key(headers, b"{}")
    assert raised.value.field == "x-shopify-event-id"
    assert delivery_key({"x-shopify-event-id": "e" * shopify_ingest.MAX_EVENT_ID_LENGTH}, b"{}") == "e" * 255


# -- the trimmed order ----------------------------------------------------------------------------------


def test_an_oversized_order_keeps_only_what_attribution_reads(intake: Intake) -> None:
    order = fixture_order()
    order["customer"]["tags"] = "x" * 300_000
    order["note_attributes"] = [{"name": "fbc", "value": "fb." + "1" * 900}, "junk"] + [
        {"name": f"n{i}", "value": i} for i in range(80)
    ]
    order["line_items"] = [dict(order["line_items"][0], properties=[{"name": "gift"}]) for _ in range(250)]
    body, headers = signed(order)

    intake.accept(body, headers)

    [delivery] = intake.queued(intake.orders_url)
    trimmed = json.loads(delivery.body)
    assert trimmed["id"] == order["id"] and trimmed["total_price"] == order["total_price"]
    assert set(trimmed["customer"]) <= {"id", "email", "phone", "first_name", "last_name", "default_address"}
    assert trimmed["customer"]["email"] == order["customer"]["email"]
    notes = trimmed["note_attributes"]
    assert len(notes) == 49  # the first 50, less the one that is no object
    assert notes[0] == {"name": "fbc", "value": ("fb." + "1" * 900)[:500]}
    assert notes[1] == {"name": "n0", "value": "0"}
    assert len(trimmed["line_items"]) == 200
    assert set(trimmed["line_items"][0]) == {
        "id",
        "product_id",
        "variant_id",
        "sku",
        "title",
        "quantity",
        "price",
    }
    assert "shipping_lines" in order and "shipping_lines" not in trimmed
