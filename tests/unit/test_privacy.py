"""What an erasure leaves of an order and of a delivery (privacy.erasure.redact): the amounts and the ad,
never the person, raw or hashed, wherever it sits in the stored bodies."""

from __future__ import annotations

import hashlib
import json

from wa_conversions.privacy.erasure import Person, redact

PHONE = "16505551234"
EMAIL = "ana.lima@example.com"
PERSON = Person(contact_keys={PHONE}, phones={PHONE}, emails={EMAIL}, names={"Ana Lima"})


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_an_order_keeps_its_amounts_and_ad_and_loses_the_person() -> None:
    detail = {
        "properties": {
            "orderId": "9201",
            "value": 25.5,
            "currency": "EUR",
            "email": EMAIL,
            "note": f"+{PHONE}",
        },
        "user": {"hashed": [sha(PHONE), sha("ana")]},
    }
    order = {
        "pk": "ORDER#shop.myshopify.com#9201",
        "sk": "ORDER",
        "item_type": "order",
        "value": "25.50",
        "currency": "EUR",
        "email": EMAIL,
        "phone": PHONE,
        "attribution": {
            "status": "attributed",
            "contact_key": PHONE,
            "source_id": "120226",
            "keys_tried": [],
        },
        "event_detail": json.dumps(detail),
        "expires_at": 2_000_000_000,
    }

    kept = redact(order, PERSON.needles(), now=1_800_000_000)

    assert (kept["value"], kept["currency"], kept["expires_at"]) == ("25.50", "EUR", 2_000_000_000)
    assert kept["attribution"] == {"status": "attributed", "source_id": "120226"}
    assert json.loads(kept["event_detail"])["properties"] == {
        "orderId": "9201",
        "value": 25.5,
        "currency": "EUR",
    }
    text = json.dumps(kept)
    assert [v for v in (PHONE, EMAIL, sha(PHONE), sha("ana"), "Ana") if v in text] == []


def test_a_delivery_not_sent_yet_is_skipped_as_erased_and_a_sent_one_stays_delivered() -> None:
    queued = json.dumps({"detail": {"properties": {"phone": PHONE, "orderId": "9201"}}})
    pending = {
        "pk": "DELIVERY#d1",
        "sk": "DELIVERY",
        "item_type": "delivery",
        "status": "pending",
        "message": queued,
    }
    delivered = {**pending, "pk": "DELIVERY#d2", "status": "delivered", "response": {"fbtrace_id": "x"}}

    skipped = redact(pending, PERSON.needles(), now=1_800_000_000)
    sent = redact(delivered, PERSON.needles(), now=1_800_000_000)

    assert (skipped["status"], skipped["reason"], skipped["gsi1pk"]) == (
        "skipped",
        "erased",
        "DELIVERIES#skipped",
    )
    assert sent["status"] == "delivered" and "response" not in sent
    assert json.loads(skipped["message"]) == {"detail": {"properties": {"orderId": "9201"}}}


def test_the_analytics_state_an_erasure_deletes_is_where_the_aggregator_keeps_it() -> None:
    from wa_conversions.privacy.erasure import kind_of
    from wa_conversions.store import keys

    # store.analytics builds the state's pk with keys.analytics_state_pk (tests/unit/test_store_keys.py)
    assert kind_of({"pk": keys.analytics_state_pk(PHONE)}) == "analytics_state"


def test_a_name_inside_a_word_or_a_key_is_not_the_person() -> None:
    """A person named Ted or Del: "attributed", "delivery" and a shop called tedshop are not them."""
    from wa_conversions.privacy.erasure import Eraser

    person = Person(contact_keys={PHONE}, phones={PHONE}, names={"Ted", "Del Lima"})
    order = {
        "pk": "ORDER#tedshop.myshopify.com#9201",
        "sk": "ORDER",
        "item_type": "order",
        "value": "25.50",
        "note": "Ted",
        "attribution": {"status": "attributed", "contact_key": PHONE, "source_id": "120226"},
    }
    delivery = {
        "pk": "DELIVERY#d1",
        "sk": "DELIVERY",
        "item_type": "delivery",
        "status": "delivered",
        "destination": "model",
        "customer_name": "del lima",
    }
    found = {(str(i["pk"]), str(i["sk"])): i for i in (order, delivery)}

    plan = Eraser.plan(None, found, person, now=1_800_000_000)  # type: ignore[arg-type]

    assert plan.deletes == [] and plan.redacted == {"delivery": 1, "order": 1}
    kept_order, kept_delivery = plan.rewrites
    assert kept_order["attribution"] == {"status": "attributed", "source_id": "120226"}
    assert "note" not in kept_order  # the whole value is the name: it goes
    assert (kept_delivery["item_type"], kept_delivery["status"]) == ("delivery", "delivered")
    assert (kept_delivery["destination"], "customer_name" in kept_delivery) == ("model", False)


def test_writes_dynamodb_left_unprocessed_are_retried_after_a_growing_jittered_wait() -> None:
    from typing import Any

    from wa_conversions.privacy.erasure import Eraser
    from wa_conversions.store.dynamo import BACKOFF_BASE_SECONDS

    class Throttled:
        """A table that leaves the batch unprocessed three times, then takes it."""

        def __init__(self) -> None:
            self.calls = 0

        def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            self.calls += 1
            return {"UnprocessedItems": RequestItems if self.calls <= 3 else {}}

    waits: list[float] = []
    client = Throttled()
    eraser = Eraser(client, "t", "i", hash_key="k", tombstone_ttl_seconds=1, sleep=waits.append)  # type: ignore[arg-type]

    eraser._write([{"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"S": "b"}}}}])

    assert client.calls == 4 and len(waits) == 3
    assert all(0 <= wait <= BACKOFF_BASE_SECONDS * 2**n for n, wait in enumerate(waits))
    assert len(set(waits)) == 3  # jittered: no two copies retry in step
