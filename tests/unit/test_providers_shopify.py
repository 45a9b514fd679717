"""Shopify's REST payloads (providers.shopify), read tolerantly from the REST fixture and the docs'
refund: the buyer's details for website events, fallbacks across API versions, shipments and refunds."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from devstack.shopify_samples import fixture_order, sample_refund
from wa_conversions.models.commerce import FulfillmentFacts, Money, PhoneCandidate, RefundFacts
from wa_conversions.providers import shopify

T_2008 = 1_199_980_800  # 2008-01-10T11:00:00-05:00, the fixture's created_at


def order(**changes: Any) -> shopify.Order:
    return shopify.parse_order(json.dumps(fixture_order() | changes))


def refund(**changes: Any) -> RefundFacts:
    return shopify.refund_facts(shopify.parse_refund(json.dumps(sample_refund() | changes)))


# -- the buyer, for website events ------------------------------------------------------------------------


def test_the_fixture_s_buyer_and_browser_are_what_a_website_event_needs() -> None:
    web = shopify.web_facts(order())
    assert (web.first_name, web.last_name, web.city, web.state, web.zip, web.country) == (
        "Bob",
        "Norman",
        "Louisville",
        "KY",
        "40202",
        "US",
    )
    client = fixture_order()["client_details"]
    assert (web.landing_site, web.client_ip, web.user_agent) == (
        "http://www.example.com?source=abc",
        client["browser_ip"],
        None,
    )
    assert web.client_ip
    assert (web.fbc, web.fbp) == (None, None)


def test_without_a_billing_address_the_shipping_one_then_the_customer_s_is_used() -> None:
    fixture = fixture_order()
    shipping = dict(fixture["shipping_address"], city="Oakland", first_name="Ana")
    assert shopify.web_facts(order(billing_address=None, shipping_address=shipping)).city == "Oakland"
    web = shopify.web_facts(order(billing_address=None, shipping_address=None))
    # the customer's default address has no names: the customer's own fill in
    assert (web.city, web.first_name, web.last_name) == ("Louisville", "Bob", "Norman")
    bare = shopify.web_facts(
        order(billing_address=None, shipping_address=None, customer=None, client_details=None)
    )
    assert (bare.city, bare.first_name, bare.client_ip) == (None, None, None)


def test_meta_s_browser_ids_are_read_from_the_cart_attributes_under_either_name() -> None:
    attributes = [
        {"name": " _FBC ", "value": "fb.1.1700000000.AbC"},
        {"name": "fbp", "value": ""},
        {"name": "_fbp", "value": 1700000000},
        "not an attribute",
        {"name": "colour", "value": "green"},
    ]
    web = shopify.web_facts(order(note_attributes=attributes))
    assert (web.fbc, web.fbp) == ("fb.1.1700000000.AbC", "1700000000")


@pytest.mark.parametrize("attributes", [None, "fbc=1", {"name": "fbc"}])
def test_cart_attributes_that_are_no_list_cost_only_the_browser_ids(attributes: Any) -> None:
    parsed = order(note_attributes=attributes)
    assert parsed.note_attributes == []
    assert shopify.order_facts(parsed).order_id == "450789469"


# -- order facts across API versions -----------------------------------------------------------------------


def test_an_order_without_a_name_is_named_by_its_number_and_without_either_is_unnamed() -> None:
    assert shopify.order_facts(order(name=None)).name == "#1001"
    assert shopify.order_facts(order(name=None, order_number=None)).name is None


def test_the_email_falls_back_to_the_contact_email_then_the_customer_s() -> None:
    assert shopify.order_facts(order(email=None, contact_email="c@example.com")).email == "c@example.com"
    assert shopify.order_facts(order(email=None, contact_email=None)).email == "bob.norman@hostmail.com"
    assert shopify.order_facts(order(email=None, contact_email=None, customer=None)).email is None


def test_the_buyer_s_money_is_the_shop_s_when_both_are_the_same_currency() -> None:
    facts = shopify.order_facts(order(presentment_currency="USD"))
    assert facts.value == facts.presentment_value == Money(Decimal("409.94"), "USD")
    assert shopify.order_facts(order(presentment_currency="EUR")).presentment_value is None


def test_the_same_currency_written_in_another_case_is_still_the_same_currency() -> None:
    # The amounts' own codes are upper-cased (Money); the comparison of the two codes must be too.
    facts = shopify.order_facts(order(currency="usd", presentment_currency="USD"))
    assert facts.presentment_value == facts.value == Money(Decimal("409.94"), "USD")


def test_nulls_where_older_payloads_have_them_are_defaults() -> None:
    facts = shopify.order_facts(
        order(test=None, line_items=None, created_at=None, processed_at="2008-01-10T16:00:00Z")
    )
    assert (facts.test, facts.line_items) == (False, ())
    assert facts.placed_at == T_2008  # processed_at stands in for created_at


def test_a_line_item_s_title_falls_back_to_its_name_and_an_empty_sku_is_none() -> None:
    item = dict(fixture_order()["line_items"][0], title=None, name="IPod - Green", sku="")
    [line] = shopify.order_facts(order(line_items=[item])).line_items
    assert (line.title, line.sku) == ("IPod - Green", None)


def test_an_order_without_an_id_is_refused() -> None:
    document = fixture_order()
    del document["id"]
    with pytest.raises(ValidationError):
        shopify.parse_order(json.dumps(document))


def test_each_phone_comes_with_the_country_of_its_own_address_else_the_order_s() -> None:
    fixture = fixture_order()
    parsed = order(
        phone="55 1234 5678",
        billing_address=dict(fixture["billing_address"], country_code="MX", phone="  "),
        shipping_address=dict(fixture["shipping_address"], country_code="CA", phone="604 555 0101"),
        customer=dict(
            fixture["customer"],
            phone="+1 650 555 1234",
            default_address=dict(fixture["customer"]["default_address"], country_code=None),
        ),
    )
    assert shopify.phone_candidates(parsed) == [
        PhoneCandidate("55 1234 5678", "MX"),
        PhoneCandidate("+1 650 555 1234", "MX"),
        PhoneCandidate("555-625-1199", "MX"),  # the default address, whose country is unknown
        PhoneCandidate("604 555 0101", "CA"),
    ]


# -- shipments --------------------------------------------------------------------------------------------


def test_a_shipment_is_dated_when_it_was_created() -> None:
    shipment = shopify.parse_fulfillment(
        b'{"id": 255858046, "order_id": 450789469, "status": "success", "created_at": "2008-01-10T16:00:00Z"}'
    )
    assert shopify.fulfillment_facts(shipment) == FulfillmentFacts(
        "450789469", "255858046", "success", T_2008
    )


def test_a_tracking_event_is_dated_when_it_happened_else_when_it_was_recorded() -> None:
    raw: dict[str, Any] = {"id": 1, "fulfillment_id": 255858046, "order_id": 450789469, "status": "delivered"}
    happened = shopify.parse_fulfillment_event(
        json.dumps(raw | {"happened_at": "2008-01-10T16:00:00Z", "created_at": "2008-01-11T00:00:00Z"})
    )
    assert shopify.fulfillment_event_facts(happened) == FulfillmentFacts(
        "450789469", "255858046", "delivered", T_2008
    )
    recorded = shopify.parse_fulfillment_event(json.dumps(raw | {"created_at": "2008-01-10T16:00:00Z"}))
    assert shopify.fulfillment_event_facts(recorded).at == T_2008
    assert shopify.fulfillment_event_facts(shopify.parse_fulfillment_event(json.dumps(raw))).at is None


# -- refunds ----------------------------------------------------------------------------------------------


def test_a_refund_names_its_lines_and_its_time() -> None:
    facts = refund()
    assert facts.line_items == (("703073504", 1),)
    assert facts.created_at == 1_200_148_200  # 2008-01-12T09:30:00-05:00
    assert refund(created_at=None).created_at == 1_200_148_200  # processed_at


def test_transactions_other_than_refunds_are_not_what_went_back() -> None:
    capture = dict(sample_refund()["transactions"][0], kind="capture", amount="500.00")
    facts = refund(transactions=[*sample_refund()["transactions"], capture])
    assert facts.value == Money(Decimal("204.97"), "USD")


def test_refunds_in_two_currencies_count_the_refunded_goods_instead() -> None:
    [usd] = sample_refund()["transactions"]
    cad = dict(usd, id=2, amount="10.00", currency="CAD")
    assert refund(transactions=[usd, cad]).value == Money(Decimal("204.97"), "USD")  # 199.00 + 5.97 tax


def test_a_refund_whose_transactions_all_failed_gave_back_nothing_in_either_money() -> None:
    [usd] = sample_refund()["transactions"]
    facts = refund(transactions=[dict(usd, status="failure")])
    assert (facts.value, facts.presentment_value) == (Money(Decimal(0), "USD"), None)


def test_a_line_s_tax_in_another_currency_than_the_shop_s_leaves_the_buyer_s_money_unknown() -> None:
    [line] = sample_refund()["refund_line_items"]
    eur = {
        "shop_money": {"amount": "199.00", "currency_code": "USD"},
        "presentment_money": {"amount": "180.00", "currency_code": "EUR"},
    }
    facts = refund(transactions=[], refund_line_items=[dict(line, subtotal_set=eur)])
    assert facts.value == Money(Decimal("204.97"), "USD")
    assert facts.presentment_value is None  # the bare 5.97 tax is in dollars, not euros


def test_a_line_of_unknown_money_makes_the_whole_refund_unknown() -> None:
    [line] = sample_refund()["refund_line_items"]
    assert refund(transactions=[], refund_line_items=[line, dict(line, subtotal_set=None)]).value is None
