"""attribution.conversions: the conversion events of docs/events.md built from what attribution stored:
the event's name, the amounts as JSON numbers, the attribution and web facts as properties, and the
envelope (stable message id, the phone as userId)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from devstack.shopify_samples import fixture_order
from wa_conversions.attribution import conversions as cv
from wa_conversions.attribution.domain import Attribution, AttributionStatus, UnmatchedReason
from wa_conversions.models import events as ev
from wa_conversions.models.commerce import LineItem, Money
from wa_conversions.providers import shopify

AT = 1_750_000_000  # 2025-06-15T15:06:40Z
SHOP = "wa-conversions-dev.myshopify.com"
CLICKED = Attribution(
    AttributionStatus.ATTRIBUTED,
    None,
    "16505551234",
    ctwa_clid="ARAkLkA8rmlF",
    source_id="120226305854810726",
    clicked_at=AT - 3600,
    keys_tried=(("token", "not_in_order"), ("phone", "matched")),
)


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (AttributionStatus.ATTRIBUTED, "conversion.attributed"),
        (AttributionStatus.WHATSAPP_INFLUENCED, "conversion.attributed"),
        (AttributionStatus.UNATTRIBUTED, "conversion.unattributed"),
    ],
)
def test_a_conversion_matched_to_a_contact_is_attributed_with_or_without_a_click(
    status: AttributionStatus, name: str
) -> None:
    assert cv.conversion_event_name(Attribution(status, None, None)) == name


@pytest.mark.parametrize(
    ("amount", "number"),
    [
        (Decimal("409.94"), 409.94),
        (Decimal("200"), 200),
        (Decimal("1E+2"), 100),
        (Decimal("0"), 0),
        (None, None),
    ],
)
def test_an_amount_becomes_the_json_number_it_is(amount: Decimal | None, number: float | None) -> None:
    found = cv.money_number(amount)
    assert found == number
    assert type(found) is type(number)


def test_an_amount_written_with_decimals_stays_a_decimal_number() -> None:
    # "199.00" is a price: a float, so destinations that tell 199 from 199.0 see the shop's form.
    found = cv.money_number(Decimal("199.00"))
    assert (found, type(found)) == (199.0, float)


def test_an_orders_line_items_become_event_line_items_with_number_prices() -> None:
    facts = shopify.order_facts(shopify.parse_order(json.dumps(fixture_order())))

    items = cv.line_item_properties(facts.line_items)

    assert [(i.sku, i.quantity, i.price) for i in items] == [
        ("IPOD2008GREEN", 1, 199.0),
        ("IPOD2008RED", 1, 199.0),
        ("IPOD2008BLACK", 1, 199.0),
    ]
    assert items[0].model_dump(by_alias=True)["productId"] == "632910392"


def test_a_line_item_without_a_usable_price_has_none() -> None:
    item = LineItem(id=None, product_id=None, variant_id=None, sku=None, title="Gift", quantity=2, price=None)
    [found] = cv.line_item_properties([item])
    assert (found.title, found.quantity, found.price) == ("Gift", 2, None)


def test_the_attribution_becomes_properties_with_the_click_time_in_iso() -> None:
    found = cv.attribution_properties(CLICKED)

    assert found["contact_key"] == "16505551234"
    assert found["ctwa_clid"] == "ARAkLkA8rmlF"
    assert found["source_id"] == "120226305854810726"
    assert found["clicked_at"] == "2025-06-15T14:06:40.000Z"
    assert found["attribution"].model_dump(by_alias=True) == {
        "status": "attributed",
        "model": "last_touch",
        "reason": None,
        "keysTried": [{"key": "token", "outcome": "not_in_order"}, {"key": "phone", "outcome": "matched"}],
    }


def test_an_unattributed_conversion_keeps_its_reason_and_no_click() -> None:
    found = cv.attribution_properties(
        Attribution(AttributionStatus.UNATTRIBUTED, UnmatchedReason.NO_CONTACT, None)
    )

    assert (found["clicked_at"], found["ctwa_clid"], found["contact_key"]) == (None, None, None)
    assert found["attribution"].reason == "no_contact"


def test_a_follow_up_of_an_order_never_seen_has_no_attribution_at_all() -> None:
    assert cv.attribution_properties(None) == {
        "contact_key": None,
        "ctwa_clid": None,
        "source_id": None,
        "clicked_at": None,
        "attribution": None,
    }


def test_values_in_shop_and_buyer_money() -> None:
    found = cv.value_properties(Money(Decimal("409.94"), "USD"), Money(Decimal("377.15"), "EUR"))
    assert found == {
        "value": 409.94,
        "currency": "USD",
        "presentment_value": 377.15,
        "presentment_currency": "EUR",
    }
    assert cv.value_properties(None, None) == dict.fromkeys(
        ("value", "currency", "presentment_value", "presentment_currency")
    )


def test_web_facts_give_the_customer_only_what_the_order_has() -> None:
    found = cv.web_properties({"first_name": "Bob", "city": "Ottawa", "fbp": "fb.1.1750000000.42", "zip": ""})

    assert found["customer"].model_dump(by_alias=True) == {"firstName": "Bob", "city": "Ottawa"}
    assert found["fbp"] == "fb.1.1750000000.42"
    assert (found["fbc"], found["client_ip"], found["landing_site"]) == (None, None, None)


def test_web_facts_without_name_or_address_have_no_customer() -> None:
    found = cv.web_properties({"client_ip": "216.191.105.146", "user_agent": "Mozilla/5.0"})
    assert (found["customer"], found["client_ip"], found["user_agent"]) == (
        None,
        "216.191.105.146",
        "Mozilla/5.0",
    )


@pytest.mark.parametrize("web", [None, {}])
def test_an_order_without_web_facts_adds_no_web_property(web: dict[str, Any] | None) -> None:
    assert cv.web_properties(web) == {}


def build(phone: str | None, event_id: str = f"shopify:{SHOP}:1001:order") -> ev.LifecycleEvent:
    return cv.build_event(
        event_name=cv.CONVERSION_ATTRIBUTED,
        conversion_id=cv.shopify_conversion_id(SHOP, "1001"),
        kind=cv.KIND_ORDER,
        event_id=event_id,
        provider="shopify",
        at=AT,
        phone=phone,
        properties={
            "shop": SHOP,
            "order_id": "1001",
            **cv.value_properties(Money(Decimal("409.94"), "USD"), None),
            "phone": phone,
            **cv.attribution_properties(CLICKED),
        },
    )


def test_the_event_carries_the_conversion_and_the_phone_as_user_id() -> None:
    event = build("16505551234")

    assert (event.event, event.user_id, event.timestamp) == (
        "conversion.attributed",
        "+16505551234",
        "2025-06-15T15:06:40.000Z",
    )
    assert event.context.provider == "shopify"
    props = event.properties
    assert props["conversionId"] == f"shopify:{SHOP}:1001"
    assert (props["eventId"], props["kind"], props["value"]) == (
        f"shopify:{SHOP}:1001:order",
        "order",
        409.94,
    )
    assert (props["ctwaClid"], props["clickedAt"]) == ("ARAkLkA8rmlF", "2025-06-15T14:06:40.000Z")
    assert ev.parse_event(event.detail_json()) == event


def test_an_event_without_a_phone_has_no_user_id() -> None:
    assert build(None).user_id is None


def test_the_same_event_id_always_gives_the_same_message_id_and_another_one_another() -> None:
    assert build("16505551234").message_id == build(None).message_id
    assert (
        build("16505551234").message_id != build("16505551234", f"shopify:{SHOP}:1001:order_paid").message_id
    )


def test_off_thread_ids_are_named_after_the_event() -> None:
    event = cv.build_event(
        event_name=cv.CONVERSION_UNATTRIBUTED,
        conversion_id=cv.external_conversion_id("0b7c5d6e"),
        kind=cv.KIND_EXTERNAL,
        event_id=f"{cv.external_conversion_id('0b7c5d6e')}:{cv.KIND_EXTERNAL}",
        provider="external",
        at=AT,
        phone=None,
        properties={"action": "Booked"},
    )
    assert (event.properties["conversionId"], event.properties["eventId"]) == (
        "external:0b7c5d6e",
        "external:0b7c5d6e:external",
    )
    assert event.properties["action"] == "Booked"


def test_a_tenants_contact_gives_its_own_number_and_nobody_gives_none() -> None:
    scoped = Attribution(AttributionStatus.ATTRIBUTED, None, "brand-b~5215512345678")
    assert cv.conversion_phone(scoped, "12125550199") == "5215512345678"
    assert cv.conversion_phone(None, "12125550199") == "12125550199"
    assert cv.conversion_phone(None, None) is None
