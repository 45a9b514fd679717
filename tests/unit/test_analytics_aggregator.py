"""The aggregator against a store kept in memory (the AnalyticsStore protocol, with its conditional
marker, its forgotten facts' tombstones and its version check): what each event adds to the hour
counters, once, whatever the order; and the pure parts it is built of (contact keys, folding facts,
conversion deltas)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date
from typing import Any

import pytest

from tests.support import analytics_history as history
from wa_conversions.analytics.aggregator import (
    MAX_ATTEMPTS,
    SHARDS,
    Aggregator,
    contact_of,
    conversion_deltas,
    epoch_of,
    fold,
    shard_of,
    unattributed_reasons,
)
from wa_conversions.analytics.metrics import MetricsQuery, compute
from wa_conversions.analytics.track import TrackItem, to_event, validate_item
from wa_conversions.errors import StateConflictError
from wa_conversions.models.contact_state import ContactState, Stored
from wa_conversions.models.counters import counters_of
from wa_conversions.models.events import EventContext, LifecycleEvent, event_id_for

PHONE = "254712345678"
AT = "2025-06-18T09:00:00.000Z"
HOUR = "2025-06-18T09"
AD = "120210000000001"


class MemoryStore:
    """What store.analytics keeps, in dicts: a contact's state by version, the hour items, the markers
    and tombstones. `conflicts` makes that many commits meet a state another invocation changed first."""

    def __init__(self) -> None:
        self.states: dict[str, tuple[str, dict[str, str], int]] = {}
        self.hours: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.markers: set[str] = set()
        self.tombstones: set[str] = set()
        self.lookups: list[set[str]] = []
        self.commits: list[tuple[str, int]] = []
        self.conflicts = 0

    def load_state(self, contact: str) -> ContactState:
        saved = self.states.get(contact)
        state = ContactState(contact=contact) if saved is None else ContactState.from_parts(*saved)
        state.remember(Stored())
        return state

    def commit(
        self,
        event_id: str,
        deltas: dict[str, float],
        shard: int,
        *,
        state: ContactState | None = None,
        expected_version: int | None = None,
        retired: tuple[ContactState, int] | None = None,
    ) -> bool:
        if self.conflicts:
            self.conflicts -= 1
            raise StateConflictError("moved")
        for saved, version in [(state, expected_version), *([retired] if retired else [])]:
            if saved is not None and self.states.get(saved.contact, ("", {}, 0))[2] != version:
                raise StateConflictError(f"{saved.contact} is not at version {version}")
        if state is None or retired:
            if event_id in self.markers:
                return False
            self.markers.add(event_id)
        self.tombstones |= state.forgotten if state else set()
        self.commits.append((event_id, shard))
        for saved in (state, retired[0] if retired else None):
            if saved is not None:
                self.states[saved.contact] = (saved.head_json(), saved.fact_groups(), saved.version)
        for key, amount in deltas.items():
            bucket, _, counter = key.partition("|")
            self.hours[bucket][counter] += amount
        return True

    def forgotten(self, groups: set[str], event_id: str) -> bool:
        self.lookups.append(groups)
        return bool(groups & self.tombstones) or event_id in self.markers

    def counters(self, tenant: str | None = None) -> dict[str, float]:
        """Every hour's counters summed, without zeros: {counter: amount}."""
        total: dict[str, float] = defaultdict(float)
        for counters in self.hours.values():
            for counter, amount in counters_of(counters, tenant).items():
                total[counter] += amount
        return {k: v for k, v in total.items() if v}


def event(
    name: str, key: str, *, user: str | None = f"+{PHONE}", when: str = AT, **props: Any
) -> LifecycleEvent:
    return LifecycleEvent(
        message_id=event_id_for(key, name),
        event=name,
        user_id=user,
        timestamp=when,
        context=EventContext(provider="meta"),
        properties=props,
    )


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def aggregator(store: MemoryStore) -> Aggregator:
    return Aggregator(store)


# -- the pure parts ------------------------------------------------------------------------------


def test_a_timestamp_is_read_as_utc_epoch_seconds() -> None:
    assert epoch_of("2025-06-18T09:00:00.000Z") == 1_750_237_200
    assert epoch_of("2025-06-18T11:00:00+02:00") == 1_750_237_200


def test_a_key_always_falls_in_the_same_one_of_the_shards() -> None:
    keys = [f"{PHONE}{i}" for i in range(200)]
    shards = [shard_of(k) for k in keys]
    assert shards == [shard_of(k) for k in keys]
    assert set(shards) == set(range(SHARDS))


@pytest.mark.parametrize(
    ("user", "props", "contact"),
    [
        ("+16505551234", {"contactKey": "uid:US.1"}, "uid:US.1"),  # capture's key wins
        ("+16505551234", {}, "16505551234"),
        ("16505551234", {"contactKey": ""}, "16505551234"),
        ("US.13491208655302741918", {}, "uid:US.13491208655302741918"),
        ("uid:US.1", {}, "uid:US.1"),
        (None, {}, None),
    ],
)
def test_the_contact_is_the_key_capture_writes(user: str | None, props: dict[str, Any], contact: str) -> None:
    assert contact_of(event("message.received", "k", user=user, **props)) == contact


def test_folding_a_received_message_takes_its_country_else_the_phone_s() -> None:
    state = ContactState(contact=PHONE)
    fold(state, event("message.received", "a", messageId="wamid.a", countryCode="ke"))
    fold(state, event("message.received", "b", messageId="wamid.b"))
    uid = ContactState(contact="uid:US.1")
    fold(uid, event("message.received", "c", messageId="wamid.c"))
    assert [i.country for i in state.inbound.values()] == ["KE", "KE"]
    assert uid.inbound["wamid.c"].country is None


def test_folding_a_status_keeps_only_the_service_modes_it_knows() -> None:
    state = ContactState(contact=PHONE)
    fold(state, event("message.sent", "s1", messageId="wamid.1", serviceMode="app", agentId="agent_1"))
    fold(state, event("message.sent", "s2", messageId="wamid.2", serviceMode="robot"))
    fold(state, event("message.failed", "s3", messageId="wamid.2"))
    assert (state.outbound["wamid.1"].mode, state.outbound["wamid.1"].agent) == ("app", "agent_1")
    assert state.outbound["wamid.2"].mode is None
    assert state.outbound["wamid.2"].failed == epoch_of(AT)


def test_folding_a_handoff_takes_its_target_mode_and_a_click_needs_its_ad() -> None:
    state = ContactState(contact=PHONE)
    fold(state, event("agent.handoff", "h", fromMode="bot", toMode="agent", agentId="agent_2"))
    fold(state, event("referral.captured", "r1", messageId="wamid.r1"))  # no sourceId: no click
    fold(state, event("referral.captured", "r2", messageId="wamid.r2", sourceId=AD))
    [handoff] = state.activities.values()
    assert (handoff.kind, handoff.mode, handoff.agent) == ("handoff", "agent", "agent_2")
    assert list(state.clicks) == ["wamid.r2"] and state.first_clicks == {AD: epoch_of(AT)}


def test_an_attributed_order_counts_for_its_ad_in_its_currency() -> None:
    order = event(
        "conversion.attributed",
        "o",
        value="49.90",
        currency="usd",
        sourceId=AD,
        attribution={"status": "attributed"},
    )
    assert conversion_deltas(order) == {
        f"{HOUR}|orders": 1,
        f"{HOUR}|revenue": 49.9,
        f"{HOUR}|ad#{AD}#orders": 1,
        f"{HOUR}|ad#{AD}#revenue": 49.9,
        f"{HOUR}|ad#{AD}#revenue:USD": 49.9,
    }


def test_a_refund_comes_off_the_revenue_and_its_ad_s() -> None:
    refund = event("refund.created", "r", value=30, currency="EUR", sourceId=AD, kind="refund")
    assert conversion_deltas(refund) == {
        f"{HOUR}|refunds": 30.0,
        f"{HOUR}|revenue": -30.0,
        f"{HOUR}|ad#{AD}#revenue": -30.0,
        f"{HOUR}|ad#{AD}#revenue:EUR": -30.0,
    }
    assert conversion_deltas(event("refund.created", "r0", value=0, sourceId=AD)) == {}


@pytest.mark.parametrize(
    ("props", "deltas"),
    [
        ({"test": True, "value": 500, "sourceId": AD}, {}),
        ({"kind": "lead"}, {}),  # a lead without value is no order
        ({"kind": "lead", "value": 5}, {f"{HOUR}|orders": 1, f"{HOUR}|revenue": 5.0}),
        ({"value": "n/a"}, {f"{HOUR}|orders": 1}),
        # an order whose click was not attributed (status says so): not the ad's
        (
            {"value": 10, "sourceId": AD, "attribution": {"status": "influenced"}},
            {f"{HOUR}|orders": 1, f"{HOUR}|revenue": 10.0},
        ),
    ],
)
def test_what_a_conversion_adds_depends_on_what_it_is(
    props: dict[str, Any], deltas: dict[str, float]
) -> None:
    assert conversion_deltas(event("conversion.attributed", "x", **props)) == deltas


@pytest.mark.parametrize(
    ("attribution", "reasons"),
    [
        ({}, ["phone:unknown"]),
        ({"reason": "no_phone", "keysTried": []}, ["phone:no_phone"]),
        (
            {
                "reason": "no_referral",
                "keysTried": [
                    {"key": "token", "outcome": "expired"},
                    {"key": "email"},
                    {"outcome": "matched"},
                    "phone",
                    {"key": "phone", "outcome": "matched"},
                ],
            },
            ["token:expired", "email:unknown", "phone:no_referral"],
        ),
    ],
)
def test_unattributed_reasons_are_per_key_tried(attribution: dict[str, Any], reasons: list[str]) -> None:
    assert unattributed_reasons(attribution) == reasons


# -- applying events ---------------------------------------------------------------------------------


def test_an_event_the_metrics_do_not_count_is_ignored_and_writes_nothing(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    result = aggregator.apply(event("order.paid", "p"))
    assert (result.outcome, result.event) == ("ignored", "order.paid")
    assert store.commits == [] and store.states == {}


def test_a_conversion_is_counted_once_in_the_shard_of_its_event(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    order = event("conversion.attributed", "o", user=None, value=20, sourceId=AD, tenant="brand-a")
    assert aggregator.apply(order).outcome == "counted"
    assert aggregator.apply(order).outcome == "duplicate"
    assert store.commits == [(order.message_id, shard_of(order.message_id))]
    assert store.counters("brand-a") == {
        "orders": 1,
        "revenue": 20,
        f"ad#{AD}#orders": 1,
        f"ad#{AD}#revenue": 20,
    }
    assert store.counters()["orders"] == 1


def test_a_message_and_its_copy_from_the_crm_count_once(aggregator: Aggregator, store: MemoryStore) -> None:
    sent = event("message.sent", "bus", messageId="wamid.o")
    copy = event("message.sent", "crm", messageId="wamid.o", agentId="agent_1")
    assert [aggregator.apply(e).outcome for e in (sent, sent, copy)] == ["counted", "duplicate", "counted"]
    # the copy adds the agent it names, not a second send
    assert store.counters() == {"sent": 1, "agent#agent_1#sent": 1, "mode#agent#sent": 1}
    assert [shard for _, shard in store.commits] == [shard_of(PHONE)] * 2
    assert aggregator.apply(copy).outcome == "duplicate"
    assert len(store.commits) == 2


def test_a_redelivery_whose_fact_was_forgotten_is_told_by_its_tombstone(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    received = event("message.received", "a", messageId="wamid.a")
    aggregator.apply(received)
    assert store.markers == set() and store.lookups == []  # a contact's event leaves no marker
    # 31 days of messages later, the first one has left the state
    aggregator.apply(event("message.received", "b", when="2025-07-20T09:00:00.000Z", messageId="wamid.b"))
    assert "wamid.a" not in store.load_state(PHONE).inbound
    assert store.tombstones == {"in:wamid.a"}
    assert aggregator.apply(received).outcome == "duplicate"
    assert store.counters()["received"] == 2
    # a fact never seen is still counted, once looked up
    assert aggregator.apply(event("message.received", "c", messageId="wamid.c")).outcome == "counted"
    assert store.lookups[-1] == {"in:wamid.c"}
    assert store.counters()["received"] == 3


def test_a_late_status_of_a_forgotten_reply_does_not_count_its_send_again(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    aggregator.apply(event("message.sent", "s", messageId="wamid.o"))
    aggregator.apply(event("message.received", "b", when="2025-07-20T09:00:00.000Z", messageId="wamid.b"))
    late = event("message.read", "r", when="2025-07-20T09:05:00.000Z", messageId="wamid.o")
    assert aggregator.apply(late).outcome == "duplicate"
    assert store.counters()["sent"] == 1


def test_a_contact_from_before_tombstones_asks_the_old_marker(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    """A head saved without forgotten_facts may have forgotten facts whose events left markers."""
    received = event("message.received", "a", messageId="wamid.a")
    old = ContactState(contact=PHONE, version=1)
    head = old.head_json().replace(',"forgotten_facts":0', "")
    assert "forgotten_facts" not in head
    store.states[PHONE] = (head, {}, 1)
    store.markers.add(received.message_id)
    assert aggregator.apply(received).outcome == "duplicate"
    assert store.counters() == {}


def test_a_status_without_a_recipient_counts_on_its_own(aggregator: Aggregator, store: MemoryStore) -> None:
    assert (
        aggregator.apply(event("message.delivered", "d", user=None, messageId="wamid.x")).outcome == "counted"
    )
    assert store.load_state("msg:wamid.x").outbound["wamid.x"].delivered == epoch_of(AT)
    assert store.counters() == {"sent": 1, "delivered": 1, "mode#unknown#sent": 1}


def test_a_state_changed_meanwhile_is_loaded_again_and_counted_once(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    store.conflicts = MAX_ATTEMPTS - 1
    assert aggregator.apply(event("contact.created", "c")).outcome == "counted"
    assert store.counters() == {"new_contacts": 1}
    assert store.states[PHONE][2] == 1


def test_a_state_that_keeps_changing_fails_the_event_to_be_retried(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    store.conflicts = MAX_ATTEMPTS
    with pytest.raises(StateConflictError, match=f"contact state kept changing over {MAX_ATTEMPTS} attempts"):
        aggregator.apply(event("contact.created", "c"))
    assert store.counters() == {}


def test_a_tenant_named_late_gets_what_its_contact_counted_before(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    aggregator.apply(event("message.received", "a", messageId="wamid.a", countryCode="KE"))
    aggregator.apply(event("message.sent", "o", messageId="wamid.o", tenant="brand-a"))
    assert (
        store.counters("brand-a")
        == store.counters()
        == {
            "received": 1,
            "country#KE": 1,
            "sent": 1,
            "mode#unknown#sent": 1,
            "responses": 1,
            "rt#0": 1,
        }
    )
    # later events count for the tenant without naming it
    aggregator.apply(event("message.read", "r", messageId="wamid.o"))
    assert store.counters("brand-a")["read"] == 1


def merged(source: str, target: str, key: str = "m") -> LifecycleEvent:
    return event("contact.merged", key, user=None, contactKey=target, mergedFrom=source)


def test_a_merge_moves_the_facts_and_takes_back_what_both_counted(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    uid = "uid:US.1"
    for user, key in ((f"+{PHONE}", "p"), ("US.1", "u")):
        aggregator.apply(event("contact.created", f"{key}-c", user=user))
        aggregator.apply(
            event("referral.captured", f"{key}-r", user=user, messageId=f"wamid.{key}", sourceId=AD)
        )
    assert store.counters()["new_contacts"] == 2

    assert aggregator.apply(merged(uid, PHONE)).outcome == "counted"

    assert store.counters() == {"new_contacts": 1, f"ad#{AD}#clicks": 2, f"ad#{AD}#conversations": 1}
    assert store.load_state(uid).merged_into == PHONE
    assert set(store.load_state(PHONE).clicks) == {"wamid.p", "wamid.u"}
    # redelivered: the merged contact is a pointer already
    assert aggregator.apply(merged(uid, PHONE)).outcome == "duplicate"
    # a late event of the merged contact counts for the survivor
    assert aggregator.apply(
        event("message.received", "late", user="US.1", messageId="wamid.late")
    ).outcome == ("counted")
    assert "wamid.late" in store.load_state(PHONE).inbound
    assert store.counters()["received"] == 1


@pytest.mark.parametrize(
    "props",
    [{"contactKey": PHONE}, {"mergedFrom": PHONE}, {"contactKey": PHONE, "mergedFrom": PHONE}, {}],
)
def test_a_merge_without_two_contacts_is_ignored(
    aggregator: Aggregator, store: MemoryStore, props: dict[str, Any]
) -> None:
    assert aggregator.apply(event("contact.merged", "m", user=None, **props)).outcome == "ignored"
    assert store.commits == []


def test_the_scripted_history_shuffled_and_twice_gives_the_hand_computed_metrics(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    steps = [*history.HISTORY, *history.HISTORY]
    random.Random(29).shuffle(steps)
    for step in steps:
        if step.source == "bus":
            aggregator.apply(LifecycleEvent.model_validate(step.document))
        else:  # a CRM item, as POST /v1/capture turns it into an event
            item = validate_item(0, step.document, history.timestamp_of(step))
            assert isinstance(item, TrackItem), item
            aggregator.apply(to_event(item, step.document))
    query = MetricsQuery(start=date.fromisoformat(history.D1), end=date.fromisoformat(history.D2))
    history.assert_matches_expected(compute(query, store.hours).model_dump(by_alias=True))


# -- a producer's batch, counted where it is made ------------------------------------------------


class FailingFor(MemoryStore):
    """A store whose loads of one contact fail, as DynamoDB throttling one partition would."""

    def __init__(self, contact: str) -> None:
        super().__init__()
        self.failing = contact

    def load_state(self, contact: str) -> ContactState:
        if contact == self.failing:
            raise RuntimeError("throttled")
        return super().load_state(contact)


def test_a_batch_is_counted_per_contact_and_its_counted_ids_returned(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    other = "447700900123"
    batch = [
        event("contact.created", "c"),
        event("message.received", "a", messageId="wamid.a"),
        event("message.sent", "s", user=f"+{other}", messageId="wamid.s"),
        event("message.read", "r", user=f"+{other}", messageId="wamid.s"),
        event("automatic_event.received", "x"),  # not counted: not the aggregator's to mark
    ]

    counted = aggregator.count_batch(batch, concurrency=2)

    assert counted == {e.message_id for e in batch[:4]}
    one_by_one = MemoryStore()
    for each in batch:
        Aggregator(one_by_one).apply(each)
    assert store.counters() == one_by_one.counters()
    assert {"new_contacts": 1, "received": 1, "sent": 1, "read": 1}.items() <= store.counters().items()
    # the batch again (SQS redelivered it): each is found counted, still marked, nothing added
    assert aggregator.count_batch(batch) == counted
    assert store.counters() == one_by_one.counters()


def test_a_contact_whose_count_fails_is_left_to_the_queue_and_the_others_counted() -> None:
    store = FailingFor(PHONE)
    aggregator = Aggregator(store)
    other = "447700900123"
    lost = event("message.received", "a", messageId="wamid.a")
    kept = event("message.received", "b", user=f"+{other}", messageId="wamid.b")

    assert aggregator.count_batch([lost, kept]) == {kept.message_id}
    assert store.counters()["received"] == 1

    # the aggregator's queue counts the one left out, once, when the store answers again
    store.failing = ""
    assert aggregator.apply(lost).outcome == "counted"
    assert aggregator.apply(kept).outcome == "duplicate"
    one_by_one = MemoryStore()
    for each in (lost, kept):
        Aggregator(one_by_one).apply(each)
    assert store.counters() == one_by_one.counters()
    assert store.counters()["received"] == 2


def test_a_merge_in_a_batch_is_counted_after_the_contacts_events(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    uid = "uid:US.1"
    batch = [
        merged(uid, PHONE),  # first in the batch, applied last
        event("contact.created", "p-c"),
        event("contact.created", "u-c", user="US.1"),
    ]

    assert aggregator.count_batch(batch) == {e.message_id for e in batch}
    assert store.counters() == {"new_contacts": 1}
    assert store.load_state(uid).merged_into == PHONE


def test_a_contact_s_events_in_a_batch_are_loaded_once_and_committed_once(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    # a new contact's ad-click message: three events of one contact
    batch = [
        event("contact.created", "m"),
        event("referral.captured", "m", messageId="wamid.m", sourceId=AD),
        event("message.received", "m", messageId="wamid.m"),
    ]

    assert aggregator.count_batch(batch) == {e.message_id for e in batch}

    assert len(store.commits) == 1
    one_by_one = MemoryStore()
    for each in batch:
        Aggregator(one_by_one).apply(each)
    assert len(one_by_one.commits) == 3
    assert store.counters() == one_by_one.counters()
    assert store.load_state(PHONE).fact_groups() == one_by_one.load_state(PHONE).fact_groups()


def test_a_batch_redelivering_a_forgotten_fact_drops_it_and_counts_the_rest(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    received = event("message.received", "a", messageId="wamid.a")
    aggregator.apply(received)
    aggregator.apply(event("message.received", "b", when="2025-07-20T09:00:00.000Z", messageId="wamid.b"))
    assert store.tombstones == {"in:wamid.a"}
    fresh = event("message.received", "c", when="2025-07-20T10:00:00.000Z", messageId="wamid.c")

    assert aggregator.count_batch([received, fresh]) == {received.message_id, fresh.message_id}

    assert store.counters()["received"] == 3  # a, b and c: a's redelivery added nothing


def test_the_scripted_history_in_shuffled_batches_twice_gives_the_hand_computed_metrics(
    aggregator: Aggregator, store: MemoryStore
) -> None:
    events: list[LifecycleEvent] = []
    for step in [*history.HISTORY, *history.HISTORY]:
        if step.source == "bus":
            events.append(LifecycleEvent.model_validate(step.document))
        else:
            item = validate_item(0, step.document, history.timestamp_of(step))
            assert isinstance(item, TrackItem), item
            events.append(to_event(item, step.document))
    random.Random(31).shuffle(events)
    for start in range(0, len(events), 7):  # a contact's events often share a batch, a repeat too
        aggregator.count_batch(events[start : start + 7])
    query = MetricsQuery(start=date.fromisoformat(history.D1), end=date.fromisoformat(history.D2))
    history.assert_matches_expected(compute(query, store.hours).model_dump(by_alias=True))
    assert len(store.commits) < len({e.message_id for e in events})  # some were committed together
