"""The collector's items (docs/forwarding.md): each bus event becomes one `track` item in its shape with
the seed's property names, the rest is skipped with a reason, and nothing that came in through
POST /v1/capture goes back out."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from devstack.standins import ShapeError, check_collector_item
from tests.support.cfn import load_template
from wa_conversions.config import CollectorSettings
from wa_conversions.delivery.runner import Planned, QueuedMessage, Skip
from wa_conversions.errors import PermanentFailure
from wa_conversions.forwarding.collector import (
    COLLECTOR_EVENTS,
    CollectorDestination,
    parse_bus_event,
    track_item,
)

WAMID_IN = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUQ0N0VFMDA2MTQ0RkJFNkNDNAA="
WAMID_OUT = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
SETTINGS = {
    "TABLE_NAME": "t",
    "DELIVERY_QUEUE_URL": "q",
    "DELIVERY_DLQ_URL": "d",
    "COLLECTOR_URL": "https://collector.test/v1/capture",
}


def bus(
    event: str, properties: dict[str, Any], *, user: str | None = "+16505551234", **context: Any
) -> dict[str, Any]:
    """An EventBridge event around the bus's track detail, as the rule hands it to the queue."""
    return {
        "version": "0",
        "detail-type": event,
        "source": "wa-conversions",
        "detail": {
            "version": "1",
            "messageId": f"id-{event}",
            "type": "track",
            "event": event,
            "userId": user,
            "timestamp": "2026-01-20T06:30:00.000Z",
            "context": {"channel": "whatsapp", "provider": "meta", "library": {"name": "x", "version": "0"}}
            | context,
            "properties": properties,
        },
    }


CONVERSION = {
    "conversionId": "shopify:shop.myshopify.com:1001",
    "eventId": "shopify:shop.myshopify.com:1001:order",
    "kind": "order",
    "shop": "shop.myshopify.com",
    "orderId": "1001",
    "orderName": "#1001",
    "value": 59.9,
    "currency": "EUR",
    "lineItems": [{"id": 1, "quantity": 2, "title": "Succulent box"}, {"id": 2, "quantity": 1}],
    "email": "buyer@example.com",
    "phone": "16505551234",
    "contactKey": "16505551234",
    "ctwaClid": "Aff-n8ZTODiE79d22KtAwQ",
    "sourceId": "120226305854810726",
    "attribution": {"status": "attributed", "model": "last_touch", "reason": None},
    "test": False,
}

# bus event (as capture and attribution publish it, docs/events.md) -> the seed's properties
CASES = [
    (
        "message.received",
        {
            "contactKey": "16505551234",
            "messageId": WAMID_IN,
            "chatId": "16505551234",
            "direction": "inbound",
            "contentType": "text",
            "hasMedia": False,
            "fromAd": True,
            "referralKnown": True,
            "countryCode": "US",
            "phoneNumberId": "106540352242922",
        },
        {
            "messageId": WAMID_IN,
            "chatId": "16505551234",
            "direction": "inbound",
            "contentType": "text",
            "hasMedia": False,
            "countryCode": "US",
            "fromAd": True,
        },
    ),
    (
        "message.sent",
        {
            "contactKey": "16505551234",
            "messageId": WAMID_OUT,
            "chatId": "16505551234",
            "direction": "outbound",
            "sentAt": "2026-01-20T06:31:00.000Z",
            "pricingCategory": "service",
            "phoneNumberId": "106540352242922",
        },
        {
            "messageId": WAMID_OUT,
            "chatId": "16505551234",
            "direction": "outbound",
            "sentAt": "2026-01-20T06:31:00.000Z",
        },
    ),
    (
        "message.delivered",
        {
            "contactKey": "16505551234",
            "messageId": WAMID_OUT,
            "chatId": "16505551234",
            "direction": "outbound",
            "deliveredAt": "2026-01-20T06:31:30.000Z",
            "pricingCategory": None,
        },
        {
            "messageId": WAMID_OUT,
            "chatId": "16505551234",
            "direction": "outbound",
            "deliveredAt": "2026-01-20T06:31:30.000Z",
        },
    ),
    (
        "message.read",
        {
            "contactKey": "16505551234",
            "messageId": WAMID_OUT,
            "chatId": "16505551234",
            "direction": "outbound",
            "readAt": "2026-01-20T06:32:00.000Z",
        },
        {
            "messageId": WAMID_OUT,
            "chatId": "16505551234",
            "direction": "outbound",
            "readAt": "2026-01-20T06:32:00.000Z",
        },
    ),
    (
        "message.failed",
        {
            "messageId": WAMID_OUT,
            "chatId": "16505551234",
            "direction": "outbound",
            "failedAt": "2026-01-20T06:32:00.000Z",
            "errors": [{"code": 131047, "title": "Re-engagement message", "message": "More than 24 hours"}],
        },
        {
            "messageId": WAMID_OUT,
            "chatId": "16505551234",
            "direction": "outbound",
            "failedAt": "2026-01-20T06:32:00.000Z",
            "errors": [{"code": 131047, "title": "Re-engagement message"}],
        },
    ),
    (
        "contact.created",
        {
            "contactKey": "16505551234",
            "userIdBusinessScoped": None,
            "name": "Kerry Fisher",
            "source": "ad",
            "countryCode": "US",
        },
        {"chatId": "16505551234", "name": "Kerry Fisher", "source": "ad", "countryCode": "US"},
    ),
    (
        "conversion.attributed",
        CONVERSION,
        {
            "conversionId": CONVERSION["conversionId"],
            "kind": "order",
            "chatId": "16505551234",
            "orderId": "1001",
            "orderName": "#1001",
            "shop": "shop.myshopify.com",
            "value": 59.9,
            "currency": "EUR",
            "itemCount": 3,
            "attributionStatus": "attributed",
            "source": "ad",
            "adSourceId": "120226305854810726",
        },
    ),
    (
        "refund.created",
        CONVERSION | {"kind": "refund", "value": 10.0, "refundId": "77", "eventId": "x:refund:77"},
        {
            "conversionId": CONVERSION["conversionId"],
            "kind": "refund",
            "chatId": "16505551234",
            "orderId": "1001",
            "orderName": "#1001",
            "shop": "shop.myshopify.com",
            "value": 10.0,
            "currency": "EUR",
            "itemCount": 3,
            "attributionStatus": "attributed",
            "source": "ad",
            "adSourceId": "120226305854810726",
            "refundId": "77",
        },
    ),
]


@pytest.mark.parametrize(("event", "properties", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_bus_event_becomes_the_seeds_track_item(
    event: str, properties: dict[str, Any], expected: dict[str, Any]
) -> None:
    item = track_item(parse_bus_event(bus(event, properties)))

    assert isinstance(item, dict)
    assert item == {
        "type": "track",
        "event": event,
        "userId": "+16505551234",
        "timestamp": "2026-01-20T06:30:00.000Z",
        "messageId": f"id-{event}",
        "context": {"channel": "whatsapp", "library": {"name": "wa-conversions", "version": "0.1.0"}},
        "properties": {k: v for k, v in expected.items() if v is not None},
    }
    # no buyer email, no raw error text, nothing the seed does not name
    assert "buyer@example.com" not in json.dumps(item) and "More than 24 hours" not in json.dumps(item)
    check_collector_item(item)  # and the stand-in, playing the collector, takes it


def test_the_stand_in_accepts_what_the_forwarder_sends_and_refuses_a_wrong_shape() -> None:
    good = track_item(parse_bus_event(bus(*CASES[0][:2])))
    assert isinstance(good, dict)
    check_collector_item(good)
    for broken in (
        good | {"userId": "16505551234"},
        good | {"timestamp": "2026-01-20 06:30:00"},
        good | {"context": {"channel": "sms", "library": good["context"]["library"]}},
        good | {"properties": good["properties"] | {"direction": "outbound"}},
        {k: v for k, v in good.items() if k != "messageId"},
    ):
        with pytest.raises(ShapeError):
            check_collector_item(broken)


def test_a_contact_known_only_by_its_business_scoped_id_is_sent_with_that_id() -> None:
    properties = {
        "messageId": WAMID_IN,
        "chatId": "uid:US.13491208655302741918",
        "direction": "inbound",
        "contentType": "text",
        "hasMedia": False,
    }
    item = track_item(parse_bus_event(bus("message.received", properties, user="US.13491208655302741918")))

    assert isinstance(item, dict) and item["userId"] == "US.13491208655302741918"
    check_collector_item(item)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (bus("message.received", CASES[0][1], provider="capture"), "POST /v1/capture"),
        (bus("referral.captured", {"messageId": WAMID_IN}), "not an event the collector gets"),
        (bus("conversion.attributed", CONVERSION | {"test": True}), "test order"),
        (bus("conversion.unattributed", CONVERSION, user=None), "no userId"),
    ],
    ids=["echo", "unsent-event", "test-order", "no-user"],
)
def test_what_the_collector_does_not_get_is_skipped_with_the_reason(
    message: dict[str, Any], reason: str
) -> None:
    destination = CollectorDestination(CollectorSettings.model_validate(SETTINGS), _no_client, _no_secret)

    decision = destination.plan(_queued(message))

    assert isinstance(decision, Skip) and reason in decision.reason
    assert decision.event_id == message["detail"]["messageId"]  # recorded as a skipped delivery


def test_a_conversion_is_planned_with_its_order_for_the_delivery_log() -> None:
    destination = CollectorDestination(CollectorSettings.model_validate(SETTINGS), _no_client, _no_secret)

    planned = destination.plan(_queued(bus("conversion.attributed", CONVERSION)))

    assert isinstance(planned, Planned)
    assert (planned.event_id, planned.order_id, planned.kind) == ("id-conversion.attributed", "1001", "order")


def test_an_item_over_the_collectors_32_kb_limit_or_not_an_event_is_parked() -> None:
    destination = CollectorDestination(CollectorSettings.model_validate(SETTINGS), _no_client, _no_secret)
    huge = CASES[5][1] | {"name": "x" * 40_000}

    with pytest.raises(PermanentFailure, match="32768"):
        destination.plan(_queued(bus("contact.created", huge)))
    with pytest.raises(PermanentFailure, match="timestamp"):
        destination.plan(_queued({"detail": {"messageId": "m", "event": "message.read"}}))


def test_the_write_key_goes_in_the_header_or_as_segments_basic_user() -> None:
    header = CollectorDestination(CollectorSettings.model_validate(SETTINGS), _no_client, lambda: "wk")
    basic = CollectorDestination(
        CollectorSettings.model_validate(SETTINGS | {"COLLECTOR_AUTH": "basic"}), _no_client, lambda: "wk"
    )

    assert header.headers() == {"X-Write-Key": "wk"}
    assert basic.headers() == {"Authorization": "Basic " + base64.b64encode(b"wk:").decode()}


def test_the_rule_feeds_every_mapped_event_and_nothing_from_v1_capture() -> None:
    rule = load_template()["Resources"]["CollectorRule"]["Properties"]["EventPattern"]

    assert sorted(rule["detail-type"]) == sorted(COLLECTOR_EVENTS)
    assert rule["detail"] == {"context": {"provider": [{"anything-but": ["capture"]}]}}


def _queued(message: dict[str, Any]) -> QueuedMessage:
    return QueuedMessage("m-1", "r-1", json.dumps(message), 1, message)


def _no_client() -> Any:
    raise AssertionError("planning never builds a client")


def _no_secret() -> str:
    raise AssertionError("planning never reads the Write Key")
