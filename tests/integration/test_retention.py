"""Retention (README, "Retention"): every kind of record expires after the days its parameter says, and
a contact that keeps talking is kept. (That no kind is forgotten is checked after every integration
test: conftest.assert_every_record_expires.)"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from devstack.sample_events import whatsapp_post
from tests.integration.conftest import IDEMPOTENCY_TABLE, TABLE, CaptureHarness
from tests.support import webhooks as wh
from wa_conversions.delivery.log import DeliveryFacts, DeliveryLog
from wa_conversions.models import retention as retention_module
from wa_conversions.models.contact_state import ContactState
from wa_conversions.models.retention import Retention
from wa_conversions.store.analytics import AnalyticsRepository
from wa_conversions.store.attribution import AttributionRepository
from wa_conversions.store.emails import ContactEmails

DAY = 86_400
PHONE = "16505550142"
UID = "US.99887766554433221100"
CLICK = {"source_type": "ad", "source_id": "120226305854810726", "ctwa_clid": "CLID-RETENTION"}


def stored(pk: str, sk: str) -> dict[str, Any]:
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
    return item


def expiry(item: dict[str, Any]) -> int:
    return int(item["expires_at"]["N"])


def post(harness: CaptureHarness, message_id: str, at: int, **extra: Any) -> None:
    document = wh.webhook(
        {
            "contacts": [wh.contact(PHONE, user_id=UID)],
            "messages": [wh.text_message(message_id, PHONE, at, **extra)],
        }
    )
    response = harness.post(whatsapp_post(wh.encode(document), harness.env["WHATSAPP_APP_SECRET"]))
    assert response["statusCode"] == 200, response
    harness.drain()


def test_captured_records_expire_after_their_parameters_days(
    harness: CaptureHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTACT_RETENTION_DAYS", "45")
    monkeypatch.setenv("REFERRAL_RETENTION_DAYS", "100")
    monkeypatch.setenv("MESSAGE_RETENTION_DAYS", "30")
    sent = int(time.time()) - 60

    post(harness, "wamid.RETENTION1", sent, referral=CLICK)

    now = int(time.time())
    contact = expiry(stored(f"CONTACT#{PHONE}", "PROFILE"))
    alias = expiry(stored(f"USER#{UID}", "ALIAS"))
    assert now + 45 * DAY - 120 <= contact <= now + 45 * DAY
    assert now + 45 * DAY - 120 <= alias <= now + 45 * DAY
    referrals = boto3.client("dynamodb").query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :referral)",
        ExpressionAttributeValues={":pk": {"S": f"CONTACT#{PHONE}"}, ":referral": {"S": "REFERRAL#"}},
    )["Items"]
    assert [expiry(item) for item in referrals] == [sent + 100 * DAY]
    assert expiry(stored("MSG#wamid.RETENTION1", "MESSAGE")) == sent + 30 * DAY


def test_a_contact_that_keeps_talking_is_kept(
    harness: CaptureHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    post(harness, "wamid.EARLY", int(time.time()) - 60)
    first = expiry(stored(f"CONTACT#{PHONE}", "PROFILE"))

    # 300 days on, the contact writes again: kept 730 days from then, and so is its user-id alias.
    later = time.time() + 300 * DAY
    monkeypatch.setattr(retention_module, "time", SimpleNamespace(time=lambda: later))
    post(harness, "wamid.LATER", int(time.time()))

    assert expiry(stored(f"CONTACT#{PHONE}", "PROFILE")) == int(later) + 730 * DAY > first + 299 * DAY
    assert expiry(stored(f"USER#{UID}", "ALIAS")) == int(later) + 730 * DAY


def test_orders_and_off_thread_events_expire_after_order_retention(harness: CaptureHarness) -> None:
    repository = AttributionRepository(boto3.client("dynamodb"), TABLE, retention=Retention(order_days=500))
    now = int(time.time())

    order = repository.create_order("shop.myshopify.com", "1001", {"shop": "shop.myshopify.com"})
    refund = repository.create_follow_up(
        "shop.myshopify.com", "1001", "refund", "9", {"shop": "shop.myshopify.com"}
    )
    external = repository.create_external_event("ext-1", {"event_name": "lead"})

    for item in (order, refund, external):
        assert now + 500 * DAY <= int(item["expires_at"]) <= now + 500 * DAY + 5


def test_deliveries_and_references_expire_after_delivery_retention(harness: CaptureHarness) -> None:
    log = DeliveryLog(
        boto3.client("dynamodb"), TABLE, clock=lambda: 1_800_000_000, retention=Retention(delivery_days=20)
    )
    facts = DeliveryFacts(destination="wax", event_id="evt-1", event_name="order")

    claim = log.claim(facts, message="{}", queue="q", lease_seconds=30)
    log.mark_delivered(claim.delivery_id, facts, 200)
    log.remember_reference("dialog360", "conversion-1", "external-1")

    assert (log.get(claim.delivery_id) or {})["expires_at"] == 1_800_000_000 + 20 * DAY
    reference = stored("DELIVERYREF#dialog360#conversion-1", "REF")
    assert expiry(reference) == 1_800_000_000 + 20 * DAY


def test_analytics_state_and_counters_expire_after_their_retention(harness: CaptureHarness) -> None:
    repository = AnalyticsRepository(
        boto3.client("dynamodb"),
        TABLE,
        IDEMPOTENCY_TABLE,
        marker_ttl_seconds=90 * DAY,
        retention=Retention(analytics_state_days=50, analytics_counter_days=60),
    )
    now = int(time.time())

    assert repository.commit("evt-1", {"2026-03-01|orders": 1.0}, 0, state=ContactState(contact=PHONE))

    day = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
    # a day's counters expire together, counted from that day, whenever each event was counted
    assert expiry(stored("ANALYTICS#2026-03", "DAY#2026-03-01#0")) == day + 60 * DAY
    assert now + 50 * DAY <= expiry(stored(f"ANALYTICS#CONTACT#{PHONE}", "STATE")) <= now + 50 * DAY + 5


def test_a_contacts_email_expires_with_the_contact_retention(harness: CaptureHarness) -> None:
    emails = ContactEmails(boto3.client("dynamodb"), TABLE, retention=Retention(contact_days=60))
    now = int(time.time())

    emails.remember([(PHONE, "someone@example.com")], source="crm")

    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert [item["item_type"]["S"] for item in items] == ["contact_email"]
    assert now + 60 * DAY <= expiry(items[0]) <= now + 60 * DAY + 5
