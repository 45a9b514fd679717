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
from wa_conversions import reset
from wa_conversions.delivery.log import DeliveryFacts, DeliveryLog
from wa_conversions.models import retention as retention_module
from wa_conversions.models.contact_state import ContactState
from wa_conversions.models.domain import ContactRef
from wa_conversions.models.retention import Retention
from wa_conversions.store.analytics import AnalyticsRepository
from wa_conversions.store.attribution import AttributionRepository
from wa_conversions.store.capture import CaptureRepository, KnownContacts
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


def post(harness: CaptureHarness, message_id: str, at: int, name: str = "Test User", **extra: Any) -> None:
    document = wh.webhook(
        {
            "contacts": [wh.contact(PHONE, name=name, user_id=UID)],
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


def post_status(harness: CaptureHarness, message_id: str, at: int) -> None:
    document = wh.webhook(
        {"statuses": [wh.status(message_id, "delivered", at, PHONE, recipient_user_id=UID)]}
    )
    response = harness.post(whatsapp_post(wh.encode(document), harness.env["WHATSAPP_APP_SECRET"]))
    assert response["statusCode"] == 200, response
    harness.drain()


def at_time(monkeypatch: pytest.MonkeyPatch, when: float) -> None:
    monkeypatch.setattr(retention_module, "time", SimpleNamespace(time=lambda: when))


def test_a_status_of_a_known_contact_leaves_its_profile_and_alias_unwritten_for_a_day(
    harness: CaptureHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = time.time()
    at_time(monkeypatch, start)
    post(harness, "wamid.FIRST", int(start) - 60)
    profile, alias = stored(f"CONTACT#{PHONE}", "PROFILE"), stored(f"USER#{UID}", "ALIAS")

    # An hour on, statuses of the replies: nothing they say is new, so neither item is written.
    at_time(monkeypatch, start + 3600)
    post_status(harness, "wamid.REPLY1", int(start) + 3600)
    assert stored(f"CONTACT#{PHONE}", "PROFILE") == profile
    assert stored(f"USER#{UID}", "ALIAS") == alias

    # Over a day on, a status keeps the contact: 730 days from then, its alias too.
    later = start + 1.5 * DAY
    at_time(monkeypatch, later)
    post_status(harness, "wamid.REPLY2", int(later))
    assert expiry(stored(f"CONTACT#{PHONE}", "PROFILE")) == int(later) + 730 * DAY
    assert expiry(stored(f"USER#{UID}", "ALIAS")) == int(later) + 730 * DAY


def test_a_lowered_contact_retention_applies_at_the_next_sighting(
    harness: CaptureHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = time.time()
    at_time(monkeypatch, start)
    post(harness, "wamid.KEPT1", int(start) - 60)
    monkeypatch.setenv("CONTACT_RETENTION_DAYS", "30")  # lowered by a redeploy, for privacy
    reset()  # a redeploy starts new environments, which read their settings anew

    at_time(monkeypatch, start + 600)
    post_status(harness, "wamid.KEPT2", int(start) + 600)

    assert expiry(stored(f"CONTACT#{PHONE}", "PROFILE")) == int(start + 600) + 30 * DAY
    assert expiry(stored(f"USER#{UID}", "ALIAS")) == int(start + 600) + 30 * DAY


def test_a_contact_erased_after_it_was_read_is_not_written_back(harness: CaptureHarness) -> None:
    post(harness, "wamid.GONE1", int(time.time()) - 60)
    repository = CaptureRepository(boto3.client("dynamodb"), TABLE)
    contact = ContactRef(phone=PHONE, user_id=UID, name="Test User")
    known = KnownContacts()
    assert repository.resolve_contact_keys([contact], known=known) == {contact: PHONE}
    # an erasure between the batch's read and its writes
    boto3.client("dynamodb").delete_item(
        TableName=TABLE, Key={"pk": {"S": f"CONTACT#{PHONE}"}, "sk": {"S": "PROFILE"}}
    )

    repository.upsert_contact(
        contact,
        PHONE,
        first_seen=int(time.time()) - 7200,
        last_inbound=int(time.time()),
        update_key="u",
        known=known,
    )

    item = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": f"CONTACT#{PHONE}"}, "sk": {"S": "PROFILE"}}
    )
    assert "Item" not in item  # no stub of one-way times, with no expiry, under the phone


def test_what_a_webhook_says_anew_of_a_known_contact_is_written_at_once(
    harness: CaptureHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = time.time()
    at_time(monkeypatch, start)
    post(harness, "wamid.NAMED1", int(start) - 60)
    at_time(monkeypatch, start + 600)
    post(harness, "wamid.NAMED2", int(start) + 600, name="Renamed")

    profile = stored(f"CONTACT#{PHONE}", "PROFILE")
    assert profile["name"] == {"S": "Renamed"}
    assert int(profile["last_inbound_at"]["N"]) == int(start) + 600
    # a status from before the contact wrote in moves its first sighting back, a day or not
    post_status(harness, "wamid.EARLIER", int(start) - 7200)
    assert int(stored(f"CONTACT#{PHONE}", "PROFILE")["first_seen_at"]["N"]) == int(start) - 7200


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
