"""attribution.external: off-thread conversions (360dialog's external events) over the table in moto:
the Meta name for an action, the lead's last conversation credited however old, a chained event
credited to its earlier one's, one stored item and one event per id, and POST's Idempotency-Key."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.support import attribution_store as shared
from tests.support.attribution_store import Store
from wa_conversions.attribution.external import ExternalEventsService, created_body, meta_event_name
from wa_conversions.attribution.requests import ExternalEventRequest
from wa_conversions.errors import NotFoundError

# the helper's fixtures: one moto table for the file, emptied for each test
attribution_moto = shared.attribution_moto
store = shared.store

DAY = 86_400
AT = 1_750_000_000  # 2025-06-15T15:06:40Z
WA_ID = "5215512345678"


def service(store: Store) -> ExternalEventsService:
    return ExternalEventsService(store.attribution, store.publisher, default_country="MX")


def request(**fields: Any) -> ExternalEventRequest:
    body = {
        "lead_phone": "55 1234 5678",
        "action": "Booked a test drive",
        "occurred_at": datetime.fromtimestamp(AT, tz=UTC).isoformat(),
        **fields,
    }
    return ExternalEventRequest.from_body(body)


@pytest.mark.parametrize(
    ("action", "revenue", "name"),
    [
        ("Purchased an item", None, "Purchase"),
        ("Order placed", None, "Purchase"),
        ("Invoice PAID", None, "Purchase"),
        ("Bought", None, "Purchase"),
        ("Booked a test drive", Decimal("250"), "Purchase"),
        ("Booked a test drive", Decimal("0"), "LeadSubmitted"),
        ("Signed up", None, "LeadSubmitted"),
    ],
)
def test_anything_sold_is_a_purchase_and_the_rest_a_submitted_lead(
    action: str, revenue: Decimal | None, name: str
) -> None:
    assert meta_event_name(action, revenue) == name


def test_an_event_of_a_lead_who_clicked_long_ago_is_still_credited_to_that_click(store: Store) -> None:
    store.contact(WA_ID, first_seen=AT - 60 * DAY)
    store.click(WA_ID, AT - 60 * DAY, "CLID-OLD")

    item = service(store).create(request(revenue={"amount": 80, "currency": "mxn"}), "0b7c5d6e")

    assert (item["lead_phone"], item["value"], item["currency"], item["meta_event_name"]) == (
        "525512345678",
        "80",
        "MXN",
        "Purchase",
    )
    assert (item["attribution"]["ctwa_clid"], item["occurred_at"], item["published"]) == (
        "CLID-OLD",
        AT,
        False,
    )
    [event] = store.publisher.events
    assert (event.event, event.user_id, event.timestamp) == (
        "conversion.attributed",
        f"+{WA_ID}",
        "2025-06-15T15:06:40.000Z",
    )
    assert (event.properties["conversionId"], event.properties["eventId"]) == (
        "external:0b7c5d6e",
        "external:0b7c5d6e:external",
    )
    assert (event.properties["value"], event.properties["eventName"], event.properties["action"]) == (
        80,
        "Purchase",
        "Booked a test drive",
    )
    stored = service(store).get("0b7c5d6e")
    assert stored["published"] is True


def test_a_lead_nobody_talked_to_goes_out_unattributed_with_the_leads_phone(store: Store) -> None:
    service(store).create(request(lead_phone="+1 650 555 1234"), "0b7c5d6e")

    [event] = store.publisher.events
    assert (event.event, event.user_id) == ("conversion.unattributed", "+16505551234")
    assert event.properties["attribution"]["reason"] == "no_contact"
    assert event.properties["value"] is None


def test_an_unparseable_lead_phone_is_kept_as_given_and_said_so(store: Store) -> None:
    item = service(store).create(request(lead_phone="ask for Ana"), "0b7c5d6e")

    assert (item["lead_phone"], item["attribution"]["reason"]) == ("ask for Ana", "unparseable_phone")
    assert store.publisher.events[0].user_id is None


def test_an_id_recorded_already_returns_what_was_stored_and_announces_nothing_twice(store: Store) -> None:
    first = service(store).create(request(), "0b7c5d6e")

    again = service(store).create(request(action="Something else"), "0b7c5d6e")

    assert (again["action"], again["event_detail"]) == ("Booked a test drive", first["event_detail"])
    assert len(store.publisher.events) == 1


def test_a_chained_event_is_credited_to_its_earlier_events_click_not_the_newest(store: Store) -> None:
    store.contact(WA_ID, first_seen=AT - DAY)
    store.click(WA_ID, AT - DAY, "CLID-FIRST")
    service(store).create(request(), "first")
    store.click(WA_ID, AT + 60, "CLID-SECOND")

    chained = service(store).create(
        request(action="Purchased the car", previous_external_event_id="first", occurred_at=None), "second"
    )
    latest = service(store).create(request(occurred_at=None), "third")

    assert (chained["attribution"]["ctwa_clid"], chained["previous_external_event_id"]) == (
        "CLID-FIRST",
        "first",
    )
    assert latest["attribution"]["ctwa_clid"] == "CLID-SECOND"
    assert store.publisher.events[1].properties["previousExternalEventId"] == "first"


def test_a_chain_to_an_unknown_event_is_a_404_naming_the_field_and_stores_nothing(store: Store) -> None:
    with pytest.raises(NotFoundError, match="No off-thread event nope") as refused:
        service(store).create(request(previous_external_event_id="nope"), "0b7c5d6e")

    assert (refused.value.status_code, refused.value.field) == (404, "previous_external_event_id")
    assert store.items() == []
    assert store.publisher.events == []


def test_an_unknown_event_is_a_404(store: Store) -> None:
    with pytest.raises(NotFoundError, match="No off-thread event 0b7c5d6e"):
        service(store).get("0b7c5d6e")


def test_post_answers_201_with_the_id_and_attribution_and_replays_it_for_the_same_key(store: Store) -> None:
    store.contact(WA_ID, first_seen=AT - DAY)
    store.click(WA_ID, AT - DAY, "CLID-K")

    first = service(store).create_once(request(), "retry-1")
    again = service(store).create_once(request(), "retry-1")

    assert (first.status_code, first.replayed, again.replayed) == (201, False, True)
    assert again.body == first.body
    assert first.body["attribution"]["ctwa_clid"] == "CLID-K"
    assert first.body == created_body(service(store).get(first.body["external_event_id"]))
    assert len(store.publisher.events) == 1


def test_post_without_a_key_makes_a_new_event_each_time(store: Store) -> None:
    ids = {service(store).create_once(request(), None).body["external_event_id"] for _ in range(2)}

    assert len(ids) == 2
    assert len(store.publisher.events) == 2


def test_a_refused_chain_is_the_keys_first_answer_too(store: Store) -> None:
    refused = service(store).create_once(request(previous_external_event_id="nope"), "k-404")

    assert (refused.status_code, refused.body["field"]) == (404, "previous_external_event_id")
    assert service(store).create_once(request(previous_external_event_id="nope"), "k-404").replayed is True
