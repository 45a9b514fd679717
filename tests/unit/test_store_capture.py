"""The capture store (store.capture) against moto: one person is one contact whatever order their ids
arrive in, a status only moves forward, and the docs' webhooks land as messages, clicks and events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import store_tables
from tests.support import webhooks as wh
from tests.support.store_tables import TABLE
from wa_conversions.models.domain import (
    AutomaticEvent,
    ContactRef,
    ErrorDetail,
    InboundMessage,
    MessageStatus,
    StatusUpdate,
)
from wa_conversions.models.retention import Retention
from wa_conversions.providers.meta import normalize, parse_webhook
from wa_conversions.store import keys
from wa_conversions.store.capture import MERGED, CaptureRepository, KnownContacts, followed_key

PHONE = "16505551234"
USER = "US.13491208655302741918"
UID_KEY = f"uid:{USER}"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from store_tables.moto_tables(monkeypatch, "Table")


@pytest.fixture
def repo(client: Any) -> CaptureRepository:
    return CaptureRepository(client, TABLE, retention=Retention(contact_days=30))


def update_of(sample: str) -> Any:
    [update] = normalize(parse_webhook(wh.sample(sample)))
    return update


def upsert(repo: CaptureRepository, ref: ContactRef, key: str, at: int, update_key: str = "msg:1") -> bool:
    written = repo.upsert_contact(ref, key, first_seen=at, last_inbound=at, update_key=update_key)
    return written.created


def test_a_contact_is_created_once_and_its_creating_update_still_knows_it_when_retried(
    repo: CaptureRepository,
) -> None:
    ref = ContactRef(phone=PHONE, name="Sheena Nelson")

    created = upsert(repo, ref, PHONE, 1_000, "msg:a")
    retried = upsert(repo, ref, PHONE, 1_000, "msg:a")
    later = upsert(repo, ref, PHONE, 2_000, "msg:b")

    profile = repo.get_contact(PHONE)
    assert (created, retried, later) == (True, True, False)
    assert profile is not None
    assert (profile["item_type"], profile["phone"], profile["name"], profile["created_by"]) == (
        "contact",
        PHONE,
        "Sheena Nelson",
        "msg:a",
    )


def test_first_seen_only_moves_earlier_and_last_inbound_only_later(repo: CaptureRepository) -> None:
    ref = ContactRef(phone=PHONE)
    for at in (2_000, 1_000, 3_000, 1_500):
        upsert(repo, ref, PHONE, at)

    profile = repo.get_contact(PHONE)
    assert profile is not None
    assert (profile["first_seen_at"], profile["last_inbound_at"]) == (1_000, 3_000)


def test_a_user_id_seen_alone_then_with_its_phone_is_one_contact_under_the_phone(
    repo: CaptureRepository,
) -> None:
    alone = ContactRef(user_id=USER)
    [(_, first_key)] = repo.resolve_contact_keys([alone]).items()
    upsert(repo, alone, UID_KEY, 1_000)
    merges: list[tuple[str, str]] = []

    both = ContactRef(phone=PHONE, user_id=USER)
    answer = repo.resolve_contact_keys([both], merges)

    assert first_key == UID_KEY
    assert answer == {both: PHONE}
    assert merges == [(UID_KEY, PHONE)]
    merged = repo.get_contact(UID_KEY)
    assert merged is not None
    assert (merged["item_type"], merged["merged_into"]) == (MERGED, PHONE)
    assert repo.contact_key_of_user(USER) == PHONE
    assert repo.resolve_contact_keys([alone]) == {alone: PHONE}


def test_a_merge_not_announced_is_named_again_until_marked_announced(repo: CaptureRepository) -> None:
    upsert(repo, ContactRef(user_id=USER), UID_KEY, 1_000)
    both = ContactRef(phone=PHONE, user_id=USER)
    repo.resolve_contact_keys([both], [])

    before: list[tuple[str, str]] = []
    repo.resolve_contact_keys([both], before)
    repo.mark_announced([UID_KEY])
    after: list[tuple[str, str]] = []
    repo.resolve_contact_keys([both], after)

    assert (before, after) == ([(UID_KEY, PHONE)], [])


def test_marking_announced_never_brings_back_an_erased_profile(repo: CaptureRepository) -> None:
    repo.mark_announced([UID_KEY])

    assert repo.get_contact(UID_KEY) is None


def test_a_merge_takes_the_messages_clicks_and_profile_and_leaves_a_pointer(
    client: Any, repo: CaptureRepository
) -> None:
    upsert(repo, ContactRef(user_id=USER, name="Sheena"), UID_KEY, 1_000)
    message = update_of("meta_docs_text_message_ctwa_referral.json")
    assert isinstance(message, InboundMessage) and message.referral is not None
    repo.record_inbound_message(
        message_id=message.message_id,
        contact_key=UID_KEY,
        message_type=message.type.value,
        raw_type=message.raw_type,
        timestamp=message.timestamp,
        channel="meta",
        phone_number_id=message.account.phone_number_id,
        has_referral=True,
        expires_at=2_000_000_000,
    )
    repo.record_referral(
        contact_key=UID_KEY,
        referral=message.referral,
        message_id=message.message_id,
        timestamp=message.timestamp,
        channel="meta",
    )

    assert repo.merge_contact(UID_KEY, PHONE) is True

    target = repo.get_contact(PHONE)
    assert target is not None and target["name"] == "Sheena" and target["first_seen_at"] == 1_000
    assert repo.count_messages(PHONE) == {"inbound": 1, "outbound": 0}
    assert repo.count_messages(UID_KEY) == {"inbound": 0, "outbound": 0}
    [click] = repo.list_referrals(PHONE)
    assert (click["contact_key"], click["gsi1pk"]) == (PHONE, keys.click_pk(message.referral.ctwa_clid or ""))
    [original] = repo.list_referrals(UID_KEY)
    assert original["merged_into"] == PHONE and "gsi1pk" not in original
    assert followed_key(repo, UID_KEY) == PHONE


@pytest.mark.parametrize("case", ["same key", "unknown", "already merged"])
def test_a_merge_with_nothing_to_fold_changes_nothing(repo: CaptureRepository, case: str) -> None:
    upsert(repo, ContactRef(user_id=USER), UID_KEY, 1_000)
    if case == "already merged":
        repo.merge_contact(UID_KEY, PHONE)
    source = {"same key": UID_KEY, "unknown": "uid:nobody", "already merged": UID_KEY}[case]
    target = UID_KEY if case == "same key" else PHONE

    assert repo.merge_contact(source, target) is False


def test_a_moved_number_leads_to_the_new_one(repo: CaptureRepository) -> None:
    upsert(repo, ContactRef(phone=PHONE), PHONE, 1_000)
    merges: list[tuple[str, str]] = []

    moved = repo.move_contact(PHONE, "16505559999", merges)

    assert (moved, merges) == (True, [(PHONE, "16505559999")])
    assert followed_key(repo, PHONE) == "16505559999"
    ref = ContactRef(phone=PHONE)
    assert repo.resolve_contact_keys([ref]) == {ref: "16505559999"}


def test_a_chain_of_merges_is_followed_only_so_far(client: Any, repo: CaptureRepository) -> None:
    for source, target in (("1", "2"), ("2", "3"), ("3", "4")):
        store_tables.put(
            client, pk=keys.contact_pk(source), sk=keys.PROFILE, item_type=MERGED, merged_into=target
        )
    upsert(repo, ContactRef(phone="4"), "4", 1_000)

    assert (followed_key(repo, "2"), followed_key(repo, "1"), followed_key(repo, "9")) == ("4", None, None)


def test_the_crm_gives_a_user_id_contact_its_phone_and_a_phone_contact_keeps_its_own(
    repo: CaptureRepository,
) -> None:
    upsert(repo, ContactRef(user_id=USER), UID_KEY, 1_000)
    upsert(repo, ContactRef(phone="31612345678"), "31612345678", 1_000)

    given = repo.add_phone(UID_KEY, PHONE, "crm")
    kept = repo.add_phone("31612345678", "31600000000", "crm")
    unknown = repo.add_phone("uid:nobody", PHONE, "crm")

    profile = repo.get_contact(PHONE)
    assert (given, kept, unknown) == (PHONE, "31612345678", None)
    assert profile is not None
    assert (profile["phone"], profile["phone_source"], profile["user_id"]) == (PHONE, "crm", USER)
    assert repo.get_contact("31600000000") is None


def test_a_tenants_contacts_and_aliases_are_its_own(repo: CaptureRepository) -> None:
    brand = repo.scoped("brand-b")
    both = ContactRef(phone=PHONE, user_id=USER)
    upsert(brand, both, brand.own_key(PHONE), 1_000)

    assert brand.own_key(PHONE) == f"brand-b~{PHONE}"
    assert brand.contact_key_of_user(USER) == f"brand-b~{PHONE}"
    assert repo.contact_key_of_user(USER) == UID_KEY  # the default tenant's alias is another
    assert repo.resolve_contact_keys([ContactRef(phone=PHONE)]) == {ContactRef(phone=PHONE): PHONE}
    profile = repo.get_contact(f"brand-b~{PHONE}")
    assert profile is not None and profile["tenant"] == "brand-b"


class CountingWrites:
    """The DynamoDB client, noting the keys every UpdateItem wrote."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.updated: list[str] = []

    def update_item(self, **kwargs: Any) -> Any:
        self.updated.append(kwargs["Key"]["pk"]["S"])
        return self._client.update_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_known_contact_is_written_again_only_when_the_webhook_says_something_new(client: Any) -> None:
    counting = CountingWrites(client)
    repo = CaptureRepository(counting, TABLE)  # type: ignore[arg-type]
    ref = ContactRef(phone=PHONE, user_id=USER, name="Sheena")
    upsert(repo, ref, PHONE, 1_000)
    known = KnownContacts()
    repo.resolve_contact_keys([ref], [], known)
    counting.updated.clear()

    repo.upsert_contact(ref, PHONE, first_seen=1_000, last_inbound=None, update_key="msg:2", known=known)
    unchanged = list(counting.updated)
    renamed = ref._replace(name="Sheena N.")
    repo.upsert_contact(renamed, PHONE, first_seen=1_000, last_inbound=None, update_key="msg:3", known=known)

    assert (sorted(known.profiles), sorted(known.aliases)) == ([PHONE], [USER])
    assert unchanged == []
    assert counting.updated == [keys.contact_pk(PHONE)]
    profile = repo.get_contact(PHONE)
    assert profile is not None and profile["name"] == "Sheena N."


def record(repo: CaptureRepository, status: MessageStatus, raw: str, at: int, **extra: Any) -> None:
    repo.record_status(
        message_id="wamid.OUT",
        status=status,
        raw_status=raw,
        timestamp=at,
        contact_key=PHONE,
        channel="meta",
        phone_number_id="106540352242922",
        errors=extra.get("errors", ()),
        conversation_id=extra.get("conversation_id"),
        pricing_category=extra.get("pricing_category"),
        expires_at=2_000_000_000,
    )


def test_a_status_only_moves_forward_and_each_ones_time_is_kept(repo: CaptureRepository) -> None:
    record(repo, MessageStatus.READ, "read", 1_300)
    record(repo, MessageStatus.SENT, "sent", 1_100)
    record(repo, MessageStatus.DELIVERED, "delivered", 1_200)

    message = repo.get_message("wamid.OUT")
    assert message is not None
    assert (message["status"], message["direction"], message["message_type"]) == (
        "read",
        "outbound",
        "unknown",
    )
    assert (message["at_sent"], message["at_delivered"], message["at_read"]) == (1_100, 1_200, 1_300)
    assert message["timestamp"] == 1_300  # the first update written made the record


def test_a_failure_is_terminal_and_an_unknown_status_is_only_timed(repo: CaptureRepository) -> None:
    error = ErrorDetail(131026, "Message undeliverable", None, None)
    record(repo, MessageStatus.FAILED, "failed", 1_200, errors=(error,))
    record(repo, MessageStatus.DELIVERED, "delivered", 1_300)
    record(repo, MessageStatus.UNKNOWN, "Deleted-By User!", 1_400)

    message = repo.get_message("wamid.OUT")
    assert message is not None
    assert message["status"] == "failed"
    assert message["errors"] == [{"code": 131026, "title": "Message undeliverable"}]
    assert message["at_deleted_by_user_"] == 1_400


def test_the_docs_status_keeps_its_conversation_and_pricing(repo: CaptureRepository) -> None:
    status = update_of("meta_docs_status_sent_with_pricing.json")
    assert isinstance(status, StatusUpdate)

    record(
        repo,
        status.status,
        status.raw_status,
        status.timestamp,
        conversation_id=status.conversation_id,
        pricing_category=status.pricing_category,
    )

    message = repo.get_message("wamid.OUT")
    assert message is not None
    assert (message["conversation_id"], message["pricing_category"], message["status_rank"]) == (
        "72b14d6bd5407799e66f64d1b338e567",
        "marketing",
        MessageStatus.SENT.rank,
    )
    assert (message["gsi1pk"], message["gsi1sk"]) == (
        keys.contact_pk(PHONE),
        keys.message_gsi1sk(status.timestamp, "wamid.OUT"),
    )


def test_the_docs_ad_click_is_found_by_its_click_id(client: Any, repo: CaptureRepository) -> None:
    message = update_of("meta_docs_text_message_ctwa_referral.json")
    assert isinstance(message, InboundMessage) and message.referral is not None

    repo.record_referral(
        contact_key=PHONE,
        referral=message.referral,
        message_id=message.message_id,
        timestamp=message.timestamp,
        channel="meta",
    )

    [click] = repo.list_referrals(PHONE)
    assert (click["source_id"], click["headline"], click["media_type"]) == (
        "120226305854810726",
        "Chat with us",
        "image",
    )
    assert click["gsi1sk"] == keys.click_gsi1sk(1750275992)
    assert click["expires_at"] == Retention().referral_expiry(1750275992)
    assert "tenant" not in click


def test_the_docs_automatic_purchase_is_kept_with_its_custom_data(
    client: Any, repo: CaptureRepository
) -> None:
    event = update_of("meta_docs_automatic_events_purchase.json")
    assert isinstance(event, AutomaticEvent)

    repo.record_automatic_event(event)

    stored = store_tables.stored(client, keys.automatic_event_pk(event.event_id), "EVENT#Purchase")
    assert stored is not None
    assert (stored["custom_data"], stored["waba_id"], stored["timestamp"]) == (
        {"currency": "USD", "value": 25000},
        "102290129340398",
        1749069131,
    )
    assert stored["gsi1pk"] == keys.click_pk(event.ctwa_clid or "")


def test_messages_are_counted_by_direction(repo: CaptureRepository) -> None:
    for number in range(3):
        repo.record_inbound_message(
            message_id=f"wamid.IN{number}",
            contact_key=PHONE,
            message_type="text",
            raw_type="text",
            timestamp=1_000 + number,
            channel="meta",
            phone_number_id=None,
            has_referral=False,
            expires_at=2_000_000_000,
        )
    record(repo, MessageStatus.SENT, "sent", 1_100)

    assert repo.count_messages(PHONE) == {"inbound": 3, "outbound": 1}
    inbound = repo.get_message("wamid.IN0")
    assert inbound is not None
    assert (inbound["status"], inbound["at_received"], "raw_type" in inbound) == ("received", 1_000, False)
