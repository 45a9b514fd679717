"""The conversion events the forwarders read (wa_conversions.forwarding.conversion): the EventBridge
envelope or its detail alone, read tolerantly, with the times and amounts the destinations need."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.support.delivery import CLICKED_AT, NOW, conversion_event
from wa_conversions.forwarding.conversion import ConversionParseError, money_text, parse_conversion


def test_the_bus_envelope_and_its_detail_alone_read_the_same() -> None:
    wrapped = parse_conversion(conversion_event("order_paid", detail_type="order.paid"))
    bare = parse_conversion(conversion_event("order_paid", detail_type="order.paid", envelope=False))

    assert wrapped == bare
    assert (wrapped.name, wrapped.provider) == ("order.paid", "shopify")
    assert wrapped.properties.event_id == "shopify:s.myshopify.com:1001:order_paid"
    assert (wrapped.event_time, wrapped.clicked_at_epoch) == (NOW, CLICKED_AT)


def test_the_event_name_falls_back_to_the_detail_type() -> None:
    message = conversion_event(detail_type="refund.created")
    del message["detail"]["event"]

    assert parse_conversion(message).name == "refund.created"


def test_times_without_a_zone_are_utc_and_an_iso_click_time_is_read() -> None:
    message = conversion_event(clickedAt="2026-03-02T09:00:00Z")
    message["detail"]["timestamp"] = "2026-03-02T10:00:00"

    event = parse_conversion(message)

    assert event.event_time == NOW
    assert event.properties.clicked_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert event.clicked_at_epoch == CLICKED_AT


def test_a_follow_up_of_an_order_never_seen_has_an_empty_attribution_and_no_click() -> None:
    event = parse_conversion(
        conversion_event("refund", attribution=None, orderKnown=False, ctwaClid=None, clickedAt=None)
    )
    assert event.properties.attribution.status is None
    assert event.properties.order_known is False
    assert event.clicked_at_epoch is None


def test_a_null_attribution_from_the_bus_is_read_as_empty() -> None:
    message = conversion_event("refund")
    message["detail"]["properties"]["attribution"] = None

    assert parse_conversion(message).properties.attribution.model is None


def test_line_items_give_the_product_names_and_how_many_were_bought() -> None:
    items = [
        {"title": "Succulent", "quantity": 2, "price": 10},
        {"title": None, "quantity": 1, "price": "4.5"},
        {"title": "Pot", "quantity": -1},  # a correction never lowers the count
    ]
    event = parse_conversion(conversion_event(lineItems=items, unknownProperty={"kept": False}))

    assert event.product_names() == ["Succulent", "Pot"]
    assert event.item_count() == 3
    assert [item.price for item in event.properties.line_items] == [10.0, 4.5, None]
    assert isinstance(event.properties.line_items[0].price, float)


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ([1, 2], "the message is not a JSON object"),
        ({"detail": {"event": "conversion.attributed", "timestamp": "2026-03-02T10:00:00Z"}}, "properties"),
        (conversion_event(conversionId=""), "properties.conversionId"),
        ({"detail-type": "order.paid", "detail": {"properties": {}}}, "timestamp"),
    ],
)
def test_what_is_not_a_conversion_is_refused_naming_where(message: object, problem: str) -> None:
    with pytest.raises(ConversionParseError, match=problem):
        parse_conversion(message)


def test_an_infinite_amount_is_refused() -> None:
    text = json.dumps(conversion_event()).replace('"value": 59.9', '"value": 1e400')

    with pytest.raises(ConversionParseError, match="value"):
        parse_conversion(json.loads(text))


@pytest.mark.parametrize(
    ("value", "text"), [(12.6, "12.60"), (59.9, "59.90"), (100, "100.00"), (0.005, "0.01")]
)
def test_amounts_are_written_with_two_decimals_as_cm_com_does(value: float, text: str) -> None:
    assert money_text(value) == text
