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
    from wa_conversions.privacy.erasure import ANALYTICS_STATE_PREFIX
    from wa_conversions.store.analytics import contact_state_pk

    assert contact_state_pk(PHONE) == f"{ANALYTICS_STATE_PREFIX}{PHONE}"
