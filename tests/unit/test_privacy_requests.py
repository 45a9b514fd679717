"""Asking for an erasure or an export (privacy.requests): a pending record, asked once; the keyed hashes
that lead back to an erasure's answer; the views GET /erasures/{id} and GET /exports/{id} answer."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import store_tables
from tests.support.store_tables import TABLE
from wa_conversions.models.domain import ContactRef
from wa_conversions.privacy.requests import (
    DONE,
    FAILED,
    ErasureQueue,
    ErasureRequests,
    contact_export_pk,
    contact_of,
    erasure_view,
    export_view,
    identifier_parts,
)
from wa_conversions.store import keys
from wa_conversions.store.capture import CaptureRepository

PHONE = "16505551234"
NOW = 1_750_000_000


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from store_tables.moto_tables(monkeypatch, "Table")


@pytest.fixture
def requests(client: Any) -> ErasureRequests:
    return ErasureRequests(client, TABLE, hash_key="erasure-hash-key", ttl_seconds=86_400, clock=lambda: NOW)


@pytest.mark.parametrize(
    ("identifier", "parts"),
    [
        ("+16505551234", (PHONE, None)),
        (" 16505551234 ", (PHONE, None)),
        ("US.13491208655302741918", (None, "US.13491208655302741918")),
        ("   ", (None, None)),
    ],
)
def test_an_identifier_is_a_phone_or_a_user_id(identifier: str, parts: tuple[str | None, str | None]) -> None:
    assert identifier_parts(identifier) == parts


def test_a_contacts_export_key_never_meets_a_shops() -> None:
    assert contact_export_pk("abc") == "EXPORT#contact#abc"
    assert contact_export_pk("abc") != keys.data_export_pk("contact.myshopify.com", "abc")


def test_identity_hashes_are_keyed_and_an_erasure_id_is_the_same_for_the_same_seed(client: Any) -> None:
    one = ErasureRequests(client, TABLE, hash_key="key-one", ttl_seconds=1)
    other = ErasureRequests(client, TABLE, hash_key="key-two", ttl_seconds=1)

    assert one.identity_hash("phone", PHONE) == one.identity_hash("phone", PHONE)
    assert one.identity_hash("phone", PHONE) != other.identity_hash("phone", PHONE)
    assert one.identity_hash("phone", PHONE) != one.identity_hash("user", PHONE)
    assert PHONE not in one.identity_hash("phone", PHONE)
    assert one.erasure_id("16505551234:msg:1") == one.erasure_id("16505551234:msg:1")
    assert one.erasure_id("16505551234:msg:1") != one.erasure_id("16505551234:msg:2")
    assert uuid.UUID(one.erasure_id("seed")).version == 5


def test_an_erasure_asked_for_is_pending_with_what_the_eraser_starts_from(
    client: Any, requests: ErasureRequests
) -> None:
    answer = requests.request_erasure("e-1", f"brand-b~{PHONE}", f"+{PHONE}")

    assert answer == {
        "id": "e-1",
        "status": "pending",
        "reason": "operator",
        "requested_at": "2025-06-15T15:06:40.000Z",
        "completed_at": None,
        "erased": {},
        "redacted": {},
    }
    record = requests.record("e-1")
    assert record is not None
    assert (record["subject_contact_key"], record["subject_scope"], record["subject_phone"]) == (
        f"brand-b~{PHONE}",
        "brand-b",
        PHONE,
    )
    assert "subject_user_id" not in record
    assert record["expires_at"] == NOW + 86_400


def test_asking_again_answers_the_record_already_there(client: Any, requests: ErasureRequests) -> None:
    requests.request_erasure("e-1", PHONE, PHONE)
    later = ErasureRequests(
        client, TABLE, hash_key="erasure-hash-key", ttl_seconds=86_400, clock=lambda: NOW + 60
    )

    again = later.request_erasure("e-1", "uid:someone-else", "someone-else")

    assert again["requested_at"] == "2025-06-15T15:06:40.000Z"
    record = requests.record("e-1")
    assert record is not None and record["subject_contact_key"] == PHONE


def test_an_erasure_never_asked_for_is_none(requests: ErasureRequests) -> None:
    assert (requests.erasure("nope"), requests.record("nope")) == (None, None)


def test_a_phone_or_user_id_already_erased_leads_to_that_erasure(
    client: Any, requests: ErasureRequests
) -> None:
    store_tables.put(
        client,
        pk=keys.erasure_pk("e-9"),
        sk=keys.ERASURE,
        erasure_id="e-9",
        status=DONE,
        reason="operator",
        requested_at=NOW,
        completed_at=NOW + 5,
        erased={"contact": 1, "message": 3},
    )
    store_tables.put(
        client,
        pk=keys.suppression_pk(requests.identity_hash("user", "US.1")),
        sk=keys.SUPPRESSION,
        erasure_id="e-9",
    )

    found = requests.previous_erasure(None, "US.1")

    assert found is not None
    assert (found["id"], found["status"], found["erased"]) == ("e-9", "done", {"contact": 1, "message": 3})
    assert found["completed_at"] == "2025-06-15T15:06:45.000Z"
    assert requests.previous_erasure(PHONE, None) is None
    assert requests.previous_erasure(None, None) is None


def test_each_export_asked_for_is_a_new_pending_one(requests: ErasureRequests) -> None:
    first = requests.request_export(PHONE, f"+{PHONE}")
    second = requests.request_export(PHONE, f"+{PHONE}")

    assert first["id"] != second["id"]
    assert (first["status"], first["held"], first["completed_at"]) == ("pending", None, None)
    assert requests.export(str(first["id"])) == first
    stored = requests.get(contact_export_pk(str(first["id"])), keys.EXPORT)
    assert stored is not None and stored["expires_at"] == NOW + 30 * 86_400
    assert requests.export("never") is None


def test_a_done_export_shows_what_is_held_and_a_failed_one_why() -> None:
    base = {"export_id": "x-1", "requested_at": NOW, "completed_at": NOW + 1}
    done = export_view({**base, "status": DONE, "document": json.dumps({"held": {"contact": [{"a": 1}]}})})
    failed = export_view({**base, "status": FAILED, "reason": "The export is too large"})

    assert (done["status"], done["held"], "reason" in done) == ("done", {"contact": [{"a": 1}]}, False)
    assert (failed["status"], failed["held"], failed["reason"]) == ("failed", None, "The export is too large")


def test_an_erasure_without_a_status_is_done() -> None:
    view = erasure_view({"erasure_id": "e-1", "requested_at": NOW, "redacted": {"order": 2}})

    assert (view["status"], view["reason"], view["redacted"]) == ("done", None, {"order": 2})


def test_the_live_contact_an_identifier_names_and_the_seed_of_its_erasure(client: Any) -> None:
    repository = CaptureRepository(client, TABLE)
    ref = ContactRef(phone=PHONE, user_id="US.1")
    repository.upsert_contact(ref, PHONE, first_seen=NOW, last_inbound=NOW, update_key="msg:wamid.1")

    by_phone = contact_of(repository, f"+{PHONE}")
    by_user = contact_of(repository, "US.1")

    assert by_phone is not None and by_user is not None
    assert (by_phone[0], by_phone[2]) == (PHONE, f"{PHONE}:msg:wamid.1")
    assert by_user[0] == PHONE
    assert contact_of(repository, "31600000000") is None


def test_a_job_names_its_request_only(client: Any) -> None:
    sqs = store_tables.client_of("sqs")
    url = sqs.create_queue(QueueName="erasure")["QueueUrl"]

    ErasureQueue(sqs, url).send({"erasure_id": "e-1"})

    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert message["Body"] == '{"erasure_id":"e-1"}'
