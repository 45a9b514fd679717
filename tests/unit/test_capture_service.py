"""Applying WhatsApp updates (capture.service) over moto's tables: what is stored, what is announced,
what a retry, an erasure, a tenant, a conversion rule or a number change makes of a batch."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support import store_tables
from tests.support import webhooks as wh
from tests.support.attribution_store import RecordingPublisher
from tests.support.capture import emptied
from tests.support.store_tables import IDEMPOTENCY, TABLE
from wa_conversions.analytics.aggregator import Aggregator
from wa_conversions.capture.service import CaptureService
from wa_conversions.errors import PublishError
from wa_conversions.models.domain import Update
from wa_conversions.models.events import LifecycleEvent
from wa_conversions.providers import cm, meta
from wa_conversions.store.analytics import AnalyticsRepository
from wa_conversions.store.capture import CaptureRepository
from wa_conversions.store.keys import ERASED_MESSAGES, erased_message_key
from wa_conversions.store.ledger import UpdateLedger
from wa_conversions.tenants import Tenant, TenantDirectory, TenantList

PHONE = "16505551234"
NEW_PHONE = "16505559876"
T = 1_750_000_000
DAY = 86_400
REFERRAL = "meta_docs_text_message_ctwa_referral.json"
PHONE_NUMBER_ID = wh.METADATA["phone_number_id"]


@dataclass
class World:
    client: Any
    publisher: RecordingPublisher = field(default_factory=RecordingPublisher)
    asked_rules: list[str | None] = field(default_factory=list)
    directory: TenantDirectory | None = None
    # the analytics counter (analytics.aggregator.count_batch), as the processor wires it, or none
    counter: Callable[[Sequence[LifecycleEvent]], set[str]] | None = None

    @property
    def repository(self) -> CaptureRepository:
        return CaptureRepository(self.client, TABLE)

    def erased(self) -> UpdateLedger:
        return UpdateLedger(self.client, IDEMPOTENCY, ttl_seconds=30 * DAY, namespace=ERASED_MESSAGES)

    def rules(self, text: str | None) -> list[str]:
        self.asked_rules.append(text)
        return ["asked-price"] if text and "price" in text else []

    def tenants(self) -> TenantDirectory:
        assert self.directory is not None
        return self.directory

    def service(self) -> CaptureService:
        return CaptureService(
            self.repository,
            self.publisher,
            UpdateLedger(self.client, IDEMPOTENCY, ttl_seconds=DAY),
            retention_days=30,
            text_rules=self.rules,
            tenants=self.tenants if self.directory is not None else None,
            erased=self.erased(),
            counter=self.counter,
        )

    def analytics(self) -> AnalyticsRepository:
        return AnalyticsRepository(self.client, TABLE, IDEMPOTENCY, marker_ttl_seconds=DAY)

    def counters(self) -> dict[str, float]:
        """Every hour's analytics counters summed (what GET /metrics reads), without zeros."""
        day = datetime.fromtimestamp(T, tz=UTC).date()
        totals: dict[str, float] = {}
        for counters in self.analytics().read_days(day, day).values():
            for name, amount in counters.items():
                totals[name] = totals.get(name, 0) + amount
        return {name: amount for name, amount in totals.items() if amount}

    def apply(self, updates: list[Update]) -> tuple[int, int, int]:
        result = self.service().apply_batch(updates)
        return result.received, result.applied, result.events

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        return [(e.event, e.properties) for e in self.publisher.events]


@pytest.fixture(scope="module")
def moto_tables() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        yield from store_tables.moto_tables(patch)


@pytest.fixture
def world(moto_tables: Any) -> World:
    return World(emptied(emptied(moto_tables, TABLE), IDEMPOTENCY, ("id",)))


def updates(document: dict[str, Any]) -> list[Update]:
    return meta.normalize(meta.parse_webhook(wh.encode(document)))


def sample_updates(name: str) -> list[Update]:
    return meta.normalize(meta.parse_webhook(wh.sample(name)))


def texts(*messages: dict[str, Any], name: str = "Test User") -> list[Update]:
    return updates(wh.webhook({"contacts": [wh.contact(PHONE, name=name)], "messages": list(messages)}))


def test_an_ad_click_creates_the_contact_stores_the_message_and_announces_all_three(world: World) -> None:
    [message] = sample_updates(REFERRAL)

    assert world.apply([message]) == (1, 1, 3)

    assert [name for name, _ in world.events()] == [
        "contact.created",
        "referral.captured",
        "message.received",
    ]
    created = world.events()[0][1]
    assert (created["contactKey"], created["source"]) == (PHONE, "ad")
    stored = world.repository.get_message(message.message_id)  # type: ignore[union-attr]
    assert stored is not None
    assert (stored["direction"], stored["contact_key"], stored["has_referral"]) == ("inbound", PHONE, True)
    assert stored["expires_at"] == message.timestamp + 30 * DAY
    [click] = world.repository.list_referrals(PHONE)
    assert click["source_id"] == "120226305854810726"


def test_an_organic_first_message_creates_an_organic_contact(world: World) -> None:
    world.apply(texts(wh.text_message("wamid.1", PHONE, T)))
    assert [name for name, _ in world.events()] == ["contact.created", "message.received"]
    assert world.events()[0][1]["source"] == "organic"


def test_a_batch_applied_again_stores_and_announces_nothing_more(world: World) -> None:
    batch = sample_updates(REFERRAL)
    world.apply(batch)
    assert world.apply(batch + batch) == (2, 0, 0)
    assert len(world.publisher.events) == 3


def test_an_update_repeated_within_a_batch_is_applied_once(world: World) -> None:
    [message] = sample_updates(REFERRAL)
    assert world.apply([message, message]) == (2, 1, 3)


def test_a_batch_whose_events_could_not_go_out_is_applied_whole_on_its_retry(world: World) -> None:
    world.publisher = RecordingPublisher(failures=1)
    batch = sample_updates(REFERRAL)
    with pytest.raises(PublishError, match="ThrottlingException"):
        world.apply(batch)
    assert world.publisher.events == []
    assert world.apply(batch) == (1, 1, 3)
    # the contact written by the failed attempt is still known to have been created by this update
    assert world.events()[0][0] == "contact.created"


def test_the_processor_counts_its_events_and_marks_them_for_the_aggregator_s_rule_to_skip(
    world: World,
) -> None:
    world.counter = Aggregator(world.analytics()).count_batch
    batch = texts(wh.text_message("wamid.in", PHONE, T)) + updates(
        wh.webhook({"statuses": [wh.status("wamid.out", "read", T + 60, PHONE)]})
    )

    assert world.apply(batch) == (2, 2, 3)

    assert [(e.event, e.context.counted) for e in world.publisher.events] == [
        ("contact.created", True),
        ("message.received", True),
        ("message.read", True),
    ]
    counted = world.counters()
    assert (counted["new_contacts"], counted["received"], counted["read"]) == (1, 1, 1)


def test_a_batch_retried_after_its_events_failed_to_go_out_counts_once(world: World) -> None:
    world.counter = Aggregator(world.analytics()).count_batch
    world.publisher = RecordingPublisher(failures=1)
    batch = texts(wh.text_message("wamid.in", PHONE, T))
    with pytest.raises(PublishError):
        world.apply(batch)  # counted, then not published: SQS hands the webhook back
    first = world.counters()

    assert world.apply(batch) == (1, 1, 2)

    assert world.counters() == first
    assert first["received"] == 1
    assert all(e.context.counted for e in world.publisher.events)


def test_an_event_the_processor_could_not_count_goes_out_unmarked_for_the_aggregator(world: World) -> None:
    def failing(events: Sequence[LifecycleEvent]) -> set[str]:
        return set()  # what count_batch returns when every count failed (DynamoDB throttled)

    world.counter = failing
    world.apply(texts(wh.text_message("wamid.in", PHONE, T)))

    assert [e.context.counted for e in world.publisher.events] == [None, None]
    assert '"counted"' not in world.publisher.events[0].detail_json()  # the envelope as before


def test_a_contact_named_by_several_messages_takes_the_latest_name_and_the_earliest_time(
    world: World,
) -> None:
    first = texts(wh.text_message("wamid.a", PHONE, T + 60), name="Sheena")
    later = texts(wh.text_message("wamid.b", PHONE, T + 120), name="Sheena Nelson")
    earliest = texts(wh.text_message("wamid.c", PHONE, T), name="Sheena")
    assert world.apply(later + first + earliest) == (3, 3, 4)
    contact = world.repository.get_contact(PHONE)
    assert contact is not None
    assert (contact["name"], contact["first_seen_at"], contact["last_inbound_at"]) == (
        "Sheena Nelson",
        T,
        T + 120,
    )
    assert contact["created_by"] == "msg:wamid.c"  # the earliest update created it
    assert [name for name, _ in world.events()].count("contact.created") == 1


def test_a_status_to_an_unknown_number_creates_an_outbound_contact(world: World) -> None:
    status = updates(wh.webhook({"statuses": [wh.status("wamid.out", "delivered", T, PHONE)]}))
    assert world.apply(status) == (1, 1, 2)
    assert world.events()[0][0] == "contact.created"
    assert world.events()[0][1]["source"] == "outbound"
    assert world.events()[1][0] == "message.delivered"


def test_a_status_of_a_known_contact_announces_the_status_only(world: World) -> None:
    world.apply(texts(wh.text_message("wamid.in", PHONE, T)))
    world.publisher.events.clear()
    world.apply(updates(wh.webhook({"statuses": [wh.status("wamid.out", "read", T + 5, PHONE)]})))
    assert [(name, props["contactKey"]) for name, props in world.events()] == [("message.read", PHONE)]


def test_a_status_with_no_event_of_its_own_is_stored_but_not_announced(world: World) -> None:
    status = updates(wh.webhook({"statuses": [wh.status("wamid.out", "teleported", T, None)]}))
    assert world.apply(status) == (1, 1, 0)
    stored = world.repository.get_message("wamid.out")
    assert stored is not None and stored["direction"] == "outbound"


def test_an_automatic_event_is_stored_and_announced(world: World) -> None:
    [event] = sample_updates("meta_docs_automatic_events_purchase.json")
    assert world.apply([event]) == (1, 1, 1)
    [(name, properties)] = world.events()
    assert name == "automatic_event.received"
    assert properties["customData"] == {"currency": "USD", "value": 25000}


def test_the_conversion_rules_see_live_texts_and_not_the_history(world: World) -> None:
    world.apply(texts(wh.text_message("wamid.p", PHONE, T, body="what is the price?")))
    received = [props for name, props in world.events() if name == "message.received"]
    assert received[0]["rulesMatched"] == ["asked-price"]
    history = [u for u in sample_updates("meta_docs_history.json") if u.idempotency_key.startswith("msg:")]
    world.asked_rules.clear()
    world.apply(history)
    assert world.asked_rules == []


def test_the_updates_of_an_erased_message_never_come_back(world: World) -> None:
    batch = texts(wh.text_message("wamid.gone", PHONE, T), wh.text_message("wamid.kept", PHONE, T + 1))
    world.erased().mark_applied([erased_message_key("wamid.gone")])
    assert world.apply(batch) == (2, 1, 2)
    assert world.repository.get_message("wamid.gone") is None
    assert world.repository.get_message("wamid.kept") is not None


def test_a_number_change_moves_the_contact_and_announces_the_merge(world: World) -> None:
    world.apply(texts(wh.text_message("wamid.old", PHONE, T)))
    world.publisher.events.clear()
    change = {
        "from": PHONE,
        "id": "wamid.sys",
        "timestamp": str(T + 100),
        "type": "system",
        "system": {"body": "changed", "wa_id": NEW_PHONE, "type": "user_changed_number"},
    }

    world.apply(updates(wh.webhook({"contacts": [wh.contact(PHONE)], "messages": [change]})))

    merged = [props for name, props in world.events() if name == "contact.merged"]
    assert [(p["mergedFrom"], p["contactKey"]) for p in merged] == [(PHONE, NEW_PHONE)]
    stored = world.repository.get_message("wamid.sys")
    assert stored is not None and stored["contact_key"] == NEW_PHONE
    assert world.repository.get_contact(NEW_PHONE) is not None


def test_a_cm_message_is_applied_as_meta_s_are(world: World) -> None:
    batch = cm.parse_webhook(wh.sample("cm_constructed_mo_text.json"))
    assert world.apply(batch) == (1, 1, 2)
    stored = world.repository.get_message(batch[0].message_id)  # type: ignore[union-attr]
    assert stored is not None and stored["channel"] == "cm"


# -- tenants ------------------------------------------------------------------------------------------------


def directory(*tenants: Tenant) -> TenantDirectory:
    return TenantDirectory(TenantList(tenants=tenants))


def test_a_tenant_s_updates_go_to_its_own_contacts_and_its_events_name_it(world: World) -> None:
    world.directory = directory(
        Tenant(id="brand-b", phone_number_ids=(PHONE_NUMBER_ID,)), Tenant(id="main", default=True)
    )
    assert world.apply(sample_updates(REFERRAL)) == (1, 1, 3)
    assert world.repository.get_contact(f"brand-b~{PHONE}") is not None
    assert world.repository.get_contact(PHONE) is None
    assert {props["tenant"] for _, props in world.events()} == {"brand-b"}
    assert world.events()[0][1]["contactKey"] == f"brand-b~{PHONE}"


def test_a_webhook_no_tenant_claims_goes_to_the_default_tenant_under_today_s_keys(world: World) -> None:
    world.directory = directory(
        Tenant(id="brand-b", phone_number_ids=("999",)), Tenant(id="main", default=True)
    )
    world.apply(sample_updates(REFERRAL))
    assert world.repository.get_contact(PHONE) is not None
    assert {props["tenant"] for _, props in world.events()} == {"main"}


def test_one_batch_of_two_tenants_is_counted_whole(world: World) -> None:
    world.directory = directory(Tenant(id="brand-b", phone_number_ids=(PHONE_NUMBER_ID,)))
    other = wh.webhook({"contacts": [wh.contact(PHONE)], "messages": [wh.text_message("wamid.x", PHONE, T)]})
    other["entry"][0]["changes"][0]["value"]["metadata"] = {
        "phone_number_id": "777",
        "display_phone_number": "1",
    }
    batch = sample_updates(REFERRAL) + updates(other)
    assert world.apply(batch) == (2, 2, 5)
    assert world.repository.get_contact(f"brand-b~{PHONE}") is not None
    assert world.repository.get_contact(PHONE) is not None  # no tenant claims 777, and there is no default
    untagged = [props for _, props in world.events() if "tenant" not in props]
    assert {props["messageId"] for props in untagged if "messageId" in props} == {"wamid.x"}


def test_without_listed_tenants_events_carry_no_tenant(world: World) -> None:
    world.directory = TenantDirectory(None)
    world.apply(sample_updates(REFERRAL))
    assert all("tenant" not in props for _, props in world.events())
