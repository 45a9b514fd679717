"""The bus's contract (models/events.py): what producers build parses back to the same model and
the same JSON, and what is not one of the bus's events is refused with a reason."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from wa_conversions.attribution import conversions as cv
from wa_conversions.capture import events as capture_events
from wa_conversions.models import events as ev
from wa_conversions.models.commerce import Money
from wa_conversions.models.domain import AutomaticEvent, InboundMessage, StatusUpdate
from wa_conversions.providers.meta import normalize, parse_webhook

PAYLOADS = Path(__file__).resolve().parents[2] / "events" / "payloads"


def _updates(name: str) -> list[object]:
    return list(normalize(parse_webhook((PAYLOADS / name).read_bytes())))


def _capture_events() -> list[ev.LifecycleEvent]:
    built: list[ev.LifecycleEvent] = []
    for name in (
        "meta_docs_text_message_ctwa_referral.json",
        "meta_docs_status_sent_with_pricing.json",
        "meta_docs_automatic_events_purchase.json",
        "meta_docs_history.json",
    ):
        for update in _updates(name):
            if isinstance(update, InboundMessage):
                built.append(capture_events.contact_created(update, update.contact, "16505551234", "ad"))
                if update.referral:
                    built.append(capture_events.referral_captured(update, "16505551234"))
                built.append(capture_events.message_received(update, "16505551234", ["lead"]))
            elif isinstance(update, StatusUpdate):
                if (status := capture_events.message_status(update, "16505551234")) is not None:
                    built.append(status)
            elif isinstance(update, AutomaticEvent):
                built.append(capture_events.automatic_event_received(update))
    built.append(ev.contact_merged("uid:US.1", "16505551234", 1_750_000_000, "meta"))
    return built


def _conversion() -> ev.LifecycleEvent:
    return cv.build_event(
        event_name=ev.EventName.REFUND_CREATED,
        conversion_id="shopify:shop.myshopify.com:1001",
        kind=cv.KIND_REFUND,
        event_id="shopify:shop.myshopify.com:1001:refund:7",
        provider="shopify",
        at=1_750_000_000,
        phone="16505551234",
        properties={
            "shop": "shop.myshopify.com",
            "order_id": "1001",
            "order_name": "#1001",
            **cv.value_properties(Money(amount=Decimal("12.50"), currency="USD"), None),
            "line_items": [],
            "email": None,
            "phone": "16505551234",
            **cv.attribution_properties(None),
            "test": False,
            "order_known": False,
            "refund_id": "7",
            "tenant": "brand-b",
        },
    )


def test_what_capture_builds_parses_back_to_the_same_model_and_the_same_json() -> None:
    built = _capture_events()
    assert {e.event for e in built} >= {
        "contact.created",
        "referral.captured",
        "message.received",
        "message.sent",
        "automatic_event.received",
        "contact.merged",
    }
    for event in built:
        parsed = ev.parse_event(event.detail_json())
        assert parsed == event
        assert parsed.detail_json() == event.detail_json()
        assert isinstance(parsed.typed(), ev.PROPERTIES[ev.EventName(event.event)])


def test_a_conversion_parses_back_with_its_optional_properties_only_where_given() -> None:
    event = _conversion()
    parsed = ev.parse_event(json.loads(event.detail_json()))
    typed = ev.properties_as(parsed, ev.ConversionProperties)
    assert typed.refund_id == "7" and typed.order_known is False and typed.value == 12.5
    assert typed.wire() == event.properties
    keys = list(event.properties)
    # Given: written, the tenant last; not given (off-thread and web facts): absent, not null.
    assert keys[-1] == "tenant" and "refundId" in keys and "orderKnown" in keys
    assert not {"action", "eventName", "appId", "customer", "fbc", "fulfillmentId"} & set(keys)


def test_a_status_event_carries_the_time_of_its_own_status_only() -> None:
    sent = [e for e in _capture_events() if e.event == "message.sent"]
    assert sent
    for event in sent:
        at_keys = {k for k in event.properties if k.endswith("At")}
        assert at_keys == {"sentAt"}
        assert ev.properties_as(event, ev.MessageStatus).sent_at == event.properties["sentAt"]


def test_rules_matched_and_backfill_are_written_only_when_they_apply() -> None:
    received = [e for e in _capture_events() if e.event == "message.received"]
    live = [e for e in received if not e.properties.get("backfill")]
    backfilled = [e for e in received if e.properties.get("backfill")]
    assert live and backfilled
    assert all(e.properties["rulesMatched"] == ["lead"] for e in live)
    # A past message is counted, not acted on: no rules on a backfilled one.
    assert all("rulesMatched" not in e.properties for e in backfilled)
    update = next(
        u for u in _updates("meta_docs_text_message_ctwa_referral.json") if isinstance(u, InboundMessage)
    )
    plain = capture_events.message_received(update, "16505551234", [])
    assert "rulesMatched" not in plain.properties and "backfill" not in plain.properties


def test_an_unknown_event_is_refused_by_name() -> None:
    detail = json.loads(_capture_events()[0].detail_json())
    detail["event"] = "message.exploded"
    with pytest.raises(ev.BusEventError, match=r"unknown event 'message\.exploded'"):
        ev.parse_event(detail)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d["properties"].update(contactKey=5), r"contact.created: properties.contactKey: "),
        (lambda d: d.pop("messageId"), r"not a bus event: messageId: Field required"),
        (lambda d: d.update(type="identify"), r"not a bus event: type: "),
    ],
)
def test_a_malformed_event_is_refused_naming_the_field(change: object, reason: str) -> None:
    detail = json.loads(_capture_events()[0].detail_json())
    assert detail["event"] == "contact.created"
    change(detail)  # type: ignore[operator]
    with pytest.raises(ev.BusEventError, match=reason):
        ev.parse_event(detail)


def test_a_conversion_without_its_ids_is_refused() -> None:
    detail = json.loads(_conversion().detail_json())
    del detail["properties"]["conversionId"]
    with pytest.raises(ev.BusEventError, match=r"refund\.created: properties\.conversionId: Field required"):
        ev.parse_event(detail)
    with pytest.raises(ev.BusEventError, match="does not carry MessageStatus"):
        ev.properties_as(_conversion(), ev.MessageStatus)


def test_v1_capture_refuses_an_item_whose_properties_contradict_the_contract() -> None:
    from datetime import UTC, datetime

    from wa_conversions.analytics.track import ItemError, validate_item

    item = {
        "type": "track",
        "event": "message.received",
        "userId": "+16505551234",
        "timestamp": "2026-01-01T00:00:00Z",
        "context": {"channel": "whatsapp"},
        "properties": {"messageId": "wamid.1", "hasMedia": {"no": 1}},
    }
    checked = validate_item(0, item, datetime(2026, 1, 2, tzinfo=UTC))
    assert isinstance(checked, ItemError)
    assert checked.field == "properties.hasMedia"
