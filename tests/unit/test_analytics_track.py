"""POST /v1/capture's batch `track` format (docs/forwarding.md): each item checked on its own, good
items turned into lifecycle events with stable ids, identities handed over before anything is
published."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wa_conversions.analytics.track import (
    MAX_BATCH,
    ItemError,
    TrackIntake,
    TrackItem,
    batch_of,
    to_event,
    validate_item,
)
from wa_conversions.errors import UnprocessableError
from wa_conversions.models.events import LifecycleEvent

NOW = datetime(2025, 6, 19, 12, tzinfo=UTC)
KENYA = "+254712345678"


def crm_item(event: str, user: str = KENYA, **properties: Any) -> dict[str, Any]:
    """A CRM's item as its collector sends it (tests/support/analytics_history.py has the same shape)."""
    return {
        "type": "track",
        "event": event,
        "userId": user,
        "timestamp": "2025-06-18T09:02:00.000Z",
        "context": {"channel": "whatsapp", "library": {"name": "crm-whatsapp", "version": "1.0.0"}},
        "properties": properties,
    }


class Bus:
    def __init__(self) -> None:
        self.batches: list[list[LifecycleEvent]] = []

    def publish(self, events: Sequence[LifecycleEvent]) -> None:
        self.batches.append(list(events))


def checked(raw: Any, index: int = 0, now: datetime = NOW) -> ItemError:
    found = validate_item(index, raw, now)
    assert isinstance(found, ItemError), found
    return found


def event_of(raw: dict[str, Any]) -> LifecycleEvent:
    item = validate_item(0, raw, NOW)
    assert isinstance(item, TrackItem), item
    return to_event(item, raw)


# -- checking an item ---------------------------------------------------------------------------------


def test_an_item_that_is_not_an_object_is_refused() -> None:
    found = checked(["track"], index=4)
    assert found.model_dump() == {
        "index": 4,
        "error": "validation_error",
        "field": None,
        "message": "An item must be a JSON object",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"userId": "0712345678"}, "userId"),
        ({"userId": "+12"}, "userId"),
        ({"timestamp": "2025-06-18T09:02:00"}, "timestamp"),  # no zone: not a moment
        ({"context": {"channel": "sms"}}, "context.channel"),
        ({"type": "identify"}, "type"),
        ({"event": ""}, "event"),
        ({"messageId": ""}, "messageId"),
    ],
)
def test_a_malformed_item_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    found = checked({**crm_item("message.sent", messageId="wamid.o1"), **change})
    assert (found.error, found.field) == ("validation_error", field)
    assert found.message.startswith(f"{field}: ")


def test_an_event_it_does_not_take_is_unsupported_and_the_message_lists_those_it_does() -> None:
    found = checked(crm_item("order.paid"))
    assert (found.error, found.field) == ("unsupported_event", "event")
    assert found.message.startswith(
        "Unsupported event 'order.paid'; supported: message.received, message.sent"
    )
    assert "agent.handoff" in found.message


@pytest.mark.parametrize(
    ("event", "needs"),
    [("message.read", "messageId"), ("chat.assigned", "agentId"), ("agent.handoff", "toMode")],
)
def test_an_event_without_the_property_it_needs_is_refused(event: str, needs: str) -> None:
    found = checked(crm_item(event, **{needs: ""}))
    assert (found.field, found.message) == (f"properties.{needs}", f"{event} needs properties.{needs}")


@pytest.mark.parametrize("name", ["serviceMode", "fromMode"])
def test_a_service_mode_is_bot_or_agent(name: str) -> None:
    found = checked(crm_item("agent.handoff", toMode="agent", **{name: "human"}))
    assert (found.field, found.message) == (
        f"properties.{name}",
        f"properties.{name} must be 'bot' or 'agent'",
    )


def test_a_timestamp_more_than_an_hour_ahead_is_refused_and_a_little_drift_is_not() -> None:
    item = crm_item("contact.created")
    ahead = datetime(2025, 6, 18, 9, 2, tzinfo=UTC) - timedelta(minutes=59)
    assert isinstance(validate_item(0, item, ahead), TrackItem)
    found = checked(item, now=ahead - timedelta(minutes=2))
    assert (found.field, found.message) == ("timestamp", "timestamp is in the future")


def test_a_phone_is_checked_only_on_the_events_that_carry_the_contact_s_identity() -> None:
    assert checked(crm_item("contact.created", phone="12")).field == "properties.phone"
    assert isinstance(validate_item(0, crm_item("chat.resolved", phone="12"), NOW), TrackItem)


# -- turning it into an event ---------------------------------------------------------------------------


def test_an_item_becomes_a_capture_event_of_the_contact() -> None:
    found = event_of(crm_item("message.sent", messageId="wamid.o1", agentId="agent_1"))
    assert (found.event, found.user_id, found.timestamp) == (
        "message.sent",
        KENYA,
        "2025-06-18T09:02:00.000Z",
    )
    assert found.context.provider == "capture"
    assert found.properties == {"messageId": "wamid.o1", "agentId": "agent_1", "contactKey": "254712345678"}


def test_an_item_with_a_message_id_has_the_same_event_id_whatever_else_it_says() -> None:
    first = crm_item("contact.created") | {"messageId": "crm-1"}
    again = crm_item("contact.created", source="ad") | {"messageId": "crm-1"}
    other = crm_item("chat.resolved") | {"messageId": "crm-1"}
    assert event_of(first).message_id == event_of(again).message_id != event_of(other).message_id


def test_an_item_without_one_is_named_by_its_content() -> None:
    one = crm_item("chat.assigned", agentId="agent_1")
    reordered = dict(reversed(list(one.items())))
    assert event_of(one).message_id == event_of(reordered).message_id
    assert event_of(one).message_id != event_of(crm_item("chat.assigned", agentId="agent_2")).message_id


def test_a_received_message_or_new_contact_gets_the_phone_s_country_unless_it_names_one() -> None:
    assert event_of(crm_item("message.received", messageId="w")).properties["countryCode"] == "KE"
    assert event_of(crm_item("contact.created", "+5215512345601")).properties["countryCode"] == "MX"
    # a number no region owns (UK drama numbers) has no country rather than a wrong one
    assert event_of(crm_item("contact.created", "+447700900123")).properties.get("countryCode") is None
    assert event_of(crm_item("contact.created", countryCode="TZ")).properties["countryCode"] == "TZ"
    assert "countryCode" not in event_of(crm_item("message.sent", messageId="w")).properties


def test_a_timestamp_in_another_zone_is_stamped_in_utc() -> None:
    found = event_of(crm_item("contact.created") | {"timestamp": "2025-06-18T12:02:00.5+03:00"})
    assert found.timestamp == "2025-06-18T09:02:00.500Z"


# -- the batch ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "The body must be an object with a 'batch' list"),
        ({"items": []}, "The body must be an object with a 'batch' list"),
        ({"batch": []}, "batch must be a non-empty list"),
        ({"batch": {"0": {}}}, "batch must be a non-empty list"),
        ({"batch": [{}] * (MAX_BATCH + 1)}, f"batch holds {MAX_BATCH + 1} items; at most {MAX_BATCH}"),
    ],
)
def test_a_body_that_is_not_a_batch_is_422_naming_batch(body: Any, message: str) -> None:
    with pytest.raises(UnprocessableError) as raised:
        batch_of(body)
    assert (raised.value.message, raised.value.field) == (message, "batch")


def test_a_full_batch_is_taken() -> None:
    assert len(batch_of({"batch": [{}] * MAX_BATCH})) == MAX_BATCH


def test_good_items_are_published_once_and_bad_ones_get_their_own_errors() -> None:
    bus = Bus()
    sent = crm_item("message.sent", messageId="wamid.o1")
    body = {"batch": [sent, "nope", sent, crm_item("order.paid"), crm_item("chat.resolved")]}

    result = TrackIntake(bus).accept(body, now=NOW)

    assert (result.accepted, result.duplicates) == (3, 1)
    assert [(e.index, e.error) for e in result.errors] == [(1, "validation_error"), (3, "unsupported_event")]
    [published] = bus.batches
    assert [e.event for e in published] == ["message.sent", "chat.resolved"]


def test_a_batch_of_bad_items_publishes_nothing() -> None:
    bus = Bus()
    result = TrackIntake(bus).accept({"batch": [1, 2]}, now=NOW)
    assert (result.accepted, len(result.errors), bus.batches) == (0, 2, [])


def test_identities_are_handed_over_before_the_events_are_published() -> None:
    seen: list[str] = []
    phones: list[list[tuple[str, str]]] = []
    emails: list[list[tuple[str, str]]] = []

    class OrderedBus(Bus):
        def publish(self, events: Sequence[LifecycleEvent]) -> None:
            seen.append("publish")
            super().publish(events)

    def remember_phones(pairs: list[tuple[str, str]]) -> None:
        seen.append("phones")
        phones.append(pairs)

    def remember_emails(pairs: list[tuple[str, str]]) -> None:
        seen.append("emails")
        emails.append(pairs)

    body = {
        "batch": [
            crm_item(
                "contact.updated",
                "US.13491208655302741918",
                email=" ana@example.com ",
                phone="+1 (650) 555-1234",
            ),
            crm_item("contact.created", email="not-an-email", phone="254 712 345 678"),
            crm_item("contact.updated", email="x" * 250 + "@a.io"),  # longer than a forward path
            crm_item("chat.resolved", email="agent@example.com", phone="+16505550000"),  # not an identity
        ]
    }
    result = TrackIntake(OrderedBus(), remember_emails, remember_phones).accept(body, now=NOW)

    assert result.errors == []
    assert seen == ["phones", "emails", "publish"]
    assert phones == [[("uid:US.13491208655302741918", "16505551234"), ("254712345678", "254712345678")]]
    assert emails == [[("uid:US.13491208655302741918", "ana@example.com")]]


def test_nothing_to_remember_calls_neither_store() -> None:
    def refuse(pairs: list[tuple[str, str]]) -> None:
        raise AssertionError(f"called with {pairs}")

    bus = Bus()
    result = TrackIntake(bus, refuse, refuse).accept({"batch": [crm_item("contact.created")]}, now=NOW)
    assert result.accepted == 1 and len(bus.batches) == 1
