"""Erasing a person everywhere (privacy.erasure) against moto: what goes, what is kept without them,
the tombstones and marks left behind, the same answer when asked again, a second attempt backing off,
an attempt cut short finished by its retry, and the exports (tests/unit/test_privacy.py has redact)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import store_tables
from tests.support import webhooks as wh
from tests.support.store_tables import IDEMPOTENCY, TABLE
from wa_conversions.models.domain import ContactRef, InboundMessage
from wa_conversions.privacy.erasure import (
    EXPORT_MAX_BYTES,
    Eraser,
    ErasureBusy,
    ErasureCutShort,
    Person,
    export_document,
    in_scope,
    person_of,
    tombstones,
    too_large,
)
from wa_conversions.providers.meta import normalize, parse_webhook
from wa_conversions.store import keys
from wa_conversions.store.capture import CaptureRepository
from wa_conversions.store.emails import ContactEmails
from wa_conversions.store.ledger import UpdateLedger

PHONE = "16505551234"
USER = "US.13491208655302741918"
EMAIL = "sheena@example.com"
SHOP = "wa-conversions-dev.myshopify.com"
NOW = 1_750_300_000


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from store_tables.moto_tables(monkeypatch)


def eraser(client: Any) -> Eraser:
    return Eraser(
        client,
        TABLE,
        IDEMPOTENCY,
        hash_key="erasure-hash-key",
        tombstone_ttl_seconds=86_400,
        clock=lambda: NOW,
    )


def history(client: Any, scope: str = "") -> InboundMessage:
    """The docs' ad click from Sheena Nelson, her email from the CRM and her order credited to her."""
    repository = CaptureRepository(client, TABLE).scoped(scope)
    [message] = normalize(parse_webhook(wh.sample("meta_docs_text_message_ctwa_referral.json")))
    assert isinstance(message, InboundMessage) and message.referral is not None
    key = repository.own_key(PHONE)
    contact = ContactRef(phone=PHONE, user_id=USER, name="Sheena Nelson")
    repository.upsert_contact(
        contact, key, first_seen=message.timestamp, last_inbound=message.timestamp, update_key="msg:1"
    )
    repository.record_inbound_message(
        message_id=message.message_id,
        contact_key=key,
        message_type="text",
        raw_type="text",
        timestamp=message.timestamp,
        channel="meta",
        phone_number_id="106540352242922",
        has_referral=True,
        expires_at=NOW + 86_400,
    )
    repository.record_referral(
        contact_key=key,
        referral=message.referral,
        message_id=message.message_id,
        timestamp=message.timestamp,
        channel="meta",
    )
    if not scope:
        ContactEmails(client, TABLE).remember([(key, EMAIL)], "crm")
        store_tables.order(client, SHOP, "9201", contact_key=key, email=EMAIL, phone=PHONE)
    return message


def person(scope: str = "") -> Person:
    key = f"{scope}~{PHONE}" if scope else PHONE
    return Person(contact_keys={key}, phones={PHONE}, scope=scope)


def test_a_person_is_found_by_phone_with_its_plus_and_by_every_hash_and_a_name_only_whole() -> None:
    needles = Person(phones={PHONE}, emails={"Ana@Example.com", "x"}, names={"Ana Lima"}).needles()

    assert needles.held_by(f"call +{PHONE} now") and needles.held_by(sha("ana@example.com"))
    assert needles.held_by(sha("lima")) and needles.held_by(" ANA LIMA ")
    assert not needles.held_by("banana lima shop")  # a name counts only as the whole value
    assert not needles.held_by("x-ray")  # a value too short to be specific is never a needle
    assert needles.locate(f"CONTACT#{PHONE}") and not needles.locate("ORDER#ana-lima.myshopify.com#1")


def test_an_item_is_the_persons_by_the_keys_it_names_else_by_its_tenant() -> None:
    default = frozenset({None, "default"})

    assert in_scope({"pk": f"CONTACT#{PHONE}"}, "", default)
    assert not in_scope({"pk": f"CONTACT#brand-b~{PHONE}"}, "", default)
    assert not in_scope({"pk": "X", "attribution": {"contact_key": f"brand-b~{PHONE}"}}, "", default)
    assert in_scope({"pk": "ORDER#s#1", "tenant": "brand-b"}, "brand-b", frozenset({"brand-b"}))
    assert not in_scope({"pk": "ORDER#s#1", "tenant": "brand-b"}, "", default)


def test_an_export_is_refused_only_past_what_one_item_holds() -> None:
    assert too_large("x" * EXPORT_MAX_BYTES) is None
    reason = too_large("é" * (EXPORT_MAX_BYTES // 2 + 1))
    assert reason is not None and reason.startswith(f"The export is {EXPORT_MAX_BYTES + 2} bytes")


def test_an_export_document_holds_each_kind_without_the_tables_keys_or_the_erasure_records() -> None:
    found = {
        ("CONTACT#1", "PROFILE"): {"pk": "CONTACT#1", "sk": "PROFILE", "item_type": "contact", "phone": "1"},
        ("ERASURE#e", "ERASURE"): {"pk": "ERASURE#e", "sk": "ERASURE", "item_type": "erasure"},
        ("MSG#m", "MESSAGE"): {"pk": "MSG#m", "sk": "MESSAGE", "gsi1pk": "CONTACT#1", "item_type": "message"},
    }

    assert export_document(found) == {
        "contact": [{"item_type": "contact", "phone": "1"}],
        "message": [{"item_type": "message"}],
    }


def test_erasing_takes_the_persons_items_and_keeps_the_orders_amount_without_them(client: Any) -> None:
    message = history(client)

    answer = eraser(client).erase(person(), reason="operator", seed=f"{PHONE}:msg:1")

    assert answer["status"] == "done"
    assert answer["erased"] == {"alias": 1, "contact": 1, "contact_email": 1, "message": 1, "referral": 1}
    assert answer["redacted"] == {"order": 1}
    left = store_tables.everything(client)
    kinds = sorted(item["item_type"] for item in left)
    assert kinds == ["erasure", "order", "suppression", "suppression"]
    [order] = [item for item in left if item["item_type"] == "order"]
    assert (order["value"], order["attribution"]) == (
        "25.50",
        {"status": "attributed", "source_id": "120226"},
    )
    text = json.dumps(left)
    assert [v for v in (PHONE, USER, EMAIL, message.message_id, "Sheena") if v in text] == []


def test_an_erased_messages_redelivery_is_dropped_by_its_tombstone_and_its_ledger_entries_go(
    client: Any,
) -> None:
    message = history(client)
    capture = UpdateLedger(client, IDEMPOTENCY, ttl_seconds=3_600)
    capture.mark_applied([f"msg:{message.message_id}", "msg:someone-else"])

    eraser(client).erase(person(), reason="operator", seed="s")

    erased = tombstones(client, IDEMPOTENCY, 3_600)
    assert erased.applied([keys.erased_message_key(message.message_id)]) == {
        keys.erased_message_key(message.message_id)
    }
    assert capture.applied([f"msg:{message.message_id}", "msg:someone-else"]) == {"msg:someone-else"}


def test_erasing_again_is_the_same_answer_and_the_marks_lead_to_it(client: Any) -> None:
    history(client)
    first = eraser(client).erase(person(), reason="operator", seed="s")

    again = eraser(client).erase(person(), reason="operator", seed="s")

    assert again == first
    requests = eraser(client).requests
    assert requests.previous_erasure(PHONE, None) == first
    assert requests.previous_erasure(None, USER) == first


def test_another_tenants_contact_with_the_same_phone_is_left_whole(client: Any) -> None:
    history(client, scope="brand-b")
    history(client)
    before = [item for item in store_tables.everything(client) if "brand-b" in json.dumps(item)]

    eraser(client).erase(person(), reason="operator", seed="s")

    after = [item for item in store_tables.everything(client) if "brand-b" in json.dumps(item)]
    assert after == before and len(before) >= 3


def test_a_second_attempt_at_a_running_erasure_backs_off_and_changes_nothing(client: Any) -> None:
    history(client)
    running = eraser(client)
    erasure_id = running.requests.erasure_id("s")
    store_tables.put(
        client,
        pk=keys.erasure_pk(erasure_id),
        sk=keys.ERASURE,
        erasure_id=erasure_id,
        status="pending",
        reason="operator",
        requested_at=NOW,
        lease_until=NOW + 600,
        lease_token="the-other-attempt",
    )

    with pytest.raises(ErasureBusy, match="another attempt runs this erasure"):
        running.erase(person(), reason="operator", seed="s")

    assert CaptureRepository(client, TABLE).get_contact(PHONE) is not None


class RunningOut:
    """An invocation's remaining seconds: plenty for `checks` looks at the clock, then too few."""

    def __init__(self, checks: int) -> None:
        self.checks = checks

    def __call__(self) -> float:
        self.checks -= 1
        return 900.0 if self.checks >= 0 else 30.0


@pytest.mark.parametrize("checks", [5, 8, 9])  # after planning, midway through the deletes, near the end
def test_an_erasure_cut_short_stays_pending_and_its_retry_finishes_it_with_every_count(
    client: Any, checks: int
) -> None:
    history(client)
    requests = eraser(client).requests

    with pytest.raises(ErasureCutShort, match="too little time left"):
        eraser(client).within(RunningOut(checks)).erase(person(), reason="operator", seed="s")

    record = requests.record(requests.erasure_id("s"))
    assert record is not None and record["status"] == "pending"
    assert "lease_token" not in record  # given back: the retry need not wait for it to run out
    finished = eraser(client).within(lambda: 900).erase(person(), reason="operator", seed="s")
    assert finished["erased"] == {"alias": 1, "contact": 1, "contact_email": 1, "message": 1, "referral": 1}
    assert (finished["status"], finished["redacted"]) == ("done", {"order": 1})
    assert CaptureRepository(client, TABLE).get_contact(PHONE) is None


def test_shop_redact_deletes_the_shops_orders_and_exports_only(client: Any) -> None:
    store_tables.order(client, SHOP, "9201", contact_key=PHONE, email=EMAIL, phone=PHONE)
    store_tables.order(client, "other.myshopify.com", "1", contact_key=None, email=None, phone=None)
    the_eraser = eraser(client)
    the_eraser.put_export(keys.data_export_pk(SHOP, "9999"), '{"held":{}}', NOW + 60)

    answer = the_eraser.erase_shop(SHOP, seed=f"shopify:{SHOP}")

    assert (answer["erased"], answer["reason"]) == ({"data_export": 1, "order": 1}, "shopify:shop/redact")
    orders = [item["shop"] for item in store_tables.everything(client) if item.get("item_type") == "order"]
    assert orders == ["other.myshopify.com"]


def test_a_data_request_export_too_large_is_recorded_failed_with_its_reason(client: Any) -> None:
    pk = keys.data_export_pk(SHOP, "9999")

    written = eraser(client).put_export(pk, "x" * (EXPORT_MAX_BYTES + 1), NOW + 60)

    stored = store_tables.stored(client, pk, keys.EXPORT)
    assert written is False and stored is not None
    assert (stored["status"], "document" in stored) == ("failed", False)
    assert str(stored["reason"]).startswith(f"The export is {EXPORT_MAX_BYTES + 1} bytes")


def test_a_contacts_export_is_written_into_its_request_which_is_then_done(client: Any) -> None:
    history(client)
    the_eraser = eraser(client)
    asked = the_eraser.requests.request_export(PHONE, f"+{PHONE}")
    request = the_eraser.requests.get(f"EXPORT#contact#{asked['id']}", keys.EXPORT)
    assert request is not None

    status = the_eraser.finish_export(request, person_of(CaptureRepository(client, TABLE), request))

    export = the_eraser.requests.export(str(asked["id"]))
    assert status == "done" and export is not None
    assert export["held"]["contact"][0]["name"] == "Sheena Nelson"
    assert export["held"]["contact_email"][0]["contact_key"] == PHONE
    assert sorted(export["held"]) == ["alias", "contact", "contact_email", "message", "order", "referral"]
    stored = the_eraser.requests.get(f"EXPORT#contact#{asked['id']}", keys.EXPORT)
    assert stored is not None and "subject_contact_key" not in stored


def test_the_person_a_request_names_is_widened_with_the_contact_still_there(client: Any) -> None:
    history(client)
    request = {"subject_contact_key": PHONE, "subject_user_id": "US.other"}

    found = person_of(CaptureRepository(client, TABLE), request)

    assert (found.contact_keys, found.phones, found.scope) == ({PHONE}, {PHONE}, "")
    assert found.user_ids == {USER, "US.other"} and found.names == {"Sheena Nelson"}
    gone = person_of(CaptureRepository(client, TABLE), {"subject_contact_key": "brand-b~31600000000"})
    assert (gone.scope, gone.phones) == ("brand-b", set())


def test_contacts_are_found_by_email_and_orders_by_id(client: Any) -> None:
    history(client)

    assert eraser(client).contacts_with_email(" Sheena@Example.com") == {PHONE}
    assert [o["order_id"] for o in eraser(client).orders(SHOP, ["9201", "9201", "404"])] == ["9201"]
