"""The emails known for contacts (store.emails): one item per (email, contact), under the address's
hash, expiring with the contact, and the same write however often the CRM repeats it."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import store_tables
from tests.support.store_tables import TABLE
from wa_conversions.models.retention import Retention
from wa_conversions.store.emails import ContactEmails
from wa_conversions.store.keys import contact_pk

EMAIL = "Ana.Lima@Example.com"
HASHED = "EMAIL#" + hashlib.sha256(b"ana.lima@example.com").hexdigest()


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from store_tables.moto_tables(monkeypatch, "Table")


def test_an_email_is_kept_under_its_hash_never_the_address(client: Any) -> None:
    ContactEmails(client, TABLE).remember([("16505551234", EMAIL)], "crm")

    [item] = store_tables.everything(client)

    assert (item["pk"], item["sk"]) == (HASHED, contact_pk("16505551234"))
    assert (item["item_type"], item["contact_key"], item["source"]) == ("contact_email", "16505551234", "crm")
    assert "ana" not in str(item).lower()


def test_it_expires_with_the_contact_retention_from_when_it_was_seen(client: Any) -> None:
    retention = Retention(contact_days=30)
    before = int(time.time())
    ContactEmails(client, TABLE, retention=retention).remember([("16505551234", EMAIL)], "crm")
    after = int(time.time())

    [item] = store_tables.everything(client)

    assert before <= item["seen_at"] <= after
    assert item["expires_at"] == item["seen_at"] + 30 * 86_400


def test_the_same_address_written_differently_for_one_contact_is_one_item(client: Any) -> None:
    ContactEmails(client, TABLE).remember(
        [("16505551234", EMAIL), ("16505551234", " ana.lima@example.com "), ("16505551234", EMAIL)], "crm"
    )

    assert [item["pk"] for item in store_tables.everything(client)] == [HASHED]


def test_an_email_known_for_two_contacts_is_kept_for_both(client: Any) -> None:
    """So that attribution by email sees the address is ambiguous."""
    ContactEmails(client, TABLE).remember(
        [("16505551234", EMAIL), ("uid:US.13491208655302741918", EMAIL)], "crm"
    )

    found = sorted(item["contact_key"] for item in store_tables.everything(client) if item["pk"] == HASHED)

    assert found == ["16505551234", "uid:US.13491208655302741918"]


def test_a_redelivered_batch_leaves_one_item_per_pair(client: Any) -> None:
    emails = ContactEmails(client, TABLE)
    pairs = [(f"3161234{n:04d}", f"buyer{n}@example.com") for n in range(40)]

    emails.remember(pairs, "crm")
    emails.remember(pairs, "crm")

    assert sorted(item["contact_key"] for item in store_tables.everything(client)) == sorted(
        key for key, _ in pairs
    )


def test_nothing_to_remember_writes_nothing(client: Any) -> None:
    ContactEmails(client, TABLE).remember([], "crm")

    assert store_tables.everything(client) == []
