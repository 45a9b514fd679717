"""A contact's ads consent (store.consent): what the contact said, none when never asked, looked up once
per cache window, a batch's contacts read together, and no consent recorded for a contact unknown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import store_tables
from tests.support.store_tables import TABLE
from wa_conversions.store.consent import CACHE_SECONDS, ContactConsent
from wa_conversions.store.keys import PROFILE, contact_pk

PHONE = "16505551234"


class Counting:
    """The DynamoDB client, counting the reads a consent lookup makes."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.gets = 0
        self.batches = 0

    def get_item(self, **kwargs: Any) -> Any:
        self.gets += 1
        return self._client.get_item(**kwargs)

    def batch_get_item(self, **kwargs: Any) -> Any:
        self.batches += 1
        return self._client.batch_get_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counting]:
    for raw in store_tables.moto_tables(monkeypatch, "Table"):
        yield Counting(raw)


def contact(client: Any, key: str) -> None:
    store_tables.put(client, pk=contact_pk(key), sk=PROFILE, item_type="contact", phone=key)


def test_a_contact_that_never_said_has_no_consent_and_an_unknown_one_neither(client: Counting) -> None:
    contact(client, PHONE)
    consent = ContactConsent(client, TABLE)  # type: ignore[arg-type]

    assert (consent.get(PHONE), consent.get("31612345678")) == (None, None)


@pytest.mark.parametrize("ads", [True, False])
def test_the_contacts_choice_is_recorded_with_its_time_and_read_back(client: Counting, ads: bool) -> None:
    contact(client, PHONE)
    consent = ContactConsent(client, TABLE)  # type: ignore[arg-type]

    assert consent.set(PHONE, ads, at=1_750_000_000) is True

    assert consent.get(PHONE) is ads
    profile = store_tables.stored(client, contact_pk(PHONE), PROFILE)
    assert profile is not None
    assert (profile["ads_consent"], profile["ads_consent_at"], profile["phone"]) == (
        ads,
        1_750_000_000,
        PHONE,
    )


def test_consent_for_an_unknown_contact_is_refused_and_creates_no_profile(client: Counting) -> None:
    consent = ContactConsent(client, TABLE)  # type: ignore[arg-type]

    assert consent.set(PHONE, False, at=1_750_000_000) is False
    assert store_tables.everything(client) == []


def test_a_lookup_is_cached_for_its_window_then_read_again(client: Counting) -> None:
    contact(client, PHONE)
    clock = Clock()
    reader = ContactConsent(client, TABLE, clock=clock)  # type: ignore[arg-type]
    assert reader.get(PHONE) is None

    ContactConsent(client, TABLE).set(PHONE, False, at=1)  # type: ignore[arg-type]  # another invocation
    clock.now += CACHE_SECONDS - 1
    cached = reader.get(PHONE)
    clock.now += 1
    fresh = reader.get(PHONE)

    assert (cached, fresh, client.gets) == (None, False, 2)


def test_a_choice_made_here_is_seen_at_once(client: Counting) -> None:
    contact(client, PHONE)
    consent = ContactConsent(client, TABLE, clock=Clock())  # type: ignore[arg-type]
    assert consent.get(PHONE) is None

    consent.set(PHONE, True, at=1)

    assert consent.get(PHONE) is True


def test_a_batch_is_looked_up_together_and_then_needs_no_read(client: Counting) -> None:
    keys = [f"3161234{n:04d}" for n in range(130)]
    for key in keys[:3]:
        contact(client, key)
    ContactConsent(client, TABLE).set(keys[1], False, at=1)  # type: ignore[arg-type]
    consent = ContactConsent(client, TABLE, clock=Clock())  # type: ignore[arg-type]

    consent.prefetch([*keys, keys[0], ""])
    answers = [consent.get(key) for key in keys[:3]] + [consent.get(keys[-1])]

    assert answers == [None, False, None, None]
    assert (client.batches, client.gets) == (2, 0)


def test_a_batch_still_cached_is_not_read_again(client: Counting) -> None:
    contact(client, PHONE)
    clock = Clock()
    consent = ContactConsent(client, TABLE, clock=clock)  # type: ignore[arg-type]
    consent.prefetch([PHONE])

    clock.now += CACHE_SECONDS - 1
    consent.prefetch([PHONE])
    clock.now += 1
    consent.prefetch([PHONE])

    assert client.batches == 2


class Refusing(Counting):
    """A table that leaves one key unprocessed however often it is asked."""

    def batch_get_item(self, **kwargs: Any) -> Any:
        self.batches += 1
        request = kwargs["RequestItems"][TABLE]
        held_back, asked = request["Keys"][:1], request["Keys"][1:]
        answer = (
            self._client.batch_get_item(RequestItems={TABLE: {**request, "Keys": asked}}) if asked else {}
        )
        return {**answer, "UnprocessedKeys": {TABLE: {**request, "Keys": held_back}}}


def test_a_contact_the_batch_left_unprocessed_is_looked_up_alone_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for raw in store_tables.moto_tables(monkeypatch, "Table"):
        client = Refusing(raw)
        contact(client, "31600000001")
        ContactConsent(raw, TABLE).set("31600000001", False, at=1)
        consent = ContactConsent(client, TABLE, clock=Clock())  # type: ignore[arg-type]

        consent.prefetch(["31600000001", "31600000002", "31600000003"])
        batches, gets = client.batches, client.gets
        answer = consent.get("31600000001")

        # three rounds of the batch, then the one key it never answered is read on its own
        assert (batches, gets, answer, client.gets) == (3, 0, False, 1)
