"""Attribution's pure parts: phone resolution with WhatsApp's Mexican and Brazilian forms, the
last-touch windows, Shopify parsing from the REST fixture and a captured refund, which phone the
destinations get, the amounts the APIs accept, and the webhook's verify-queue-mark order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from devstack.shopify_samples import fixture_order, sample_refund, shopify_headers
from tests.support import attribution as sc
from wa_conversions.attribution.conversions import conversion_phone
from wa_conversions.attribution.domain import Attribution, AttributionStatus, UnmatchedReason
from wa_conversions.attribution.engine import UNLIMITED, Windows, attribute
from wa_conversions.attribution.phones import parse_e164, resolve, whatsapp_forms
from wa_conversions.attribution.requests import ExternalEventRequest
from wa_conversions.capture import shopify_ingest
from wa_conversions.errors import ApiError, BadRequestError, UnauthorizedError, validation_error
from wa_conversions.forwarding.requests import parse_send_request
from wa_conversions.models.commerce import PhoneCandidate
from wa_conversions.providers import shopify

DAY = 86_400
T0 = 1_750_000_000
PAYLOADS = Path(__file__).resolve().parents[2] / "events" / "payloads"
CAPTURED_REFUND = (
    "shopify_refund_pending_shopify_payments_captured_aqua_tech_winnipeg_ecommerce_integrations.json"
)


class TestPhones:
    @pytest.mark.parametrize(
        ("raw", "country", "expected"),
        [
            ("(650) 555-1234", "US", "16505551234"),
            ("+1 650-555-1234", "MX", "16505551234"),
            ("55 1234 5678", "MX", "525512345678"),
            ("+52 1 55 1234 5678", None, "525512345678"),
            ("5215512345678", None, "525512345678"),
            ("(11) 98765-4321", "BR", "5511987654321"),
            ("0044 20 7946 0958", None, "442079460958"),
            ("650 555 1234", None, None),  # national, and no country to read it with
            ("call me", "US", None),
            ("", "US", None),
        ],
    )
    def test_free_text_to_e164(self, raw: str, country: str | None, expected: str | None) -> None:
        assert parse_e164(raw, country) == expected

    @pytest.mark.parametrize(
        ("e164", "forms"),
        [
            ("525512345678", ["525512345678", "5215512345678"]),
            ("5511987654321", ["5511987654321", "551187654321"]),
            ("551187654321", ["551187654321", "5511987654321"]),
            ("551133334444", ["551133334444"]),  # a São Paulo landline has no ninth digit to add
            ("16505551234", ["16505551234"]),
        ],
    )
    def test_whatsapp_forms(self, e164: str, forms: list[str]) -> None:
        assert whatsapp_forms(e164) == forms

    def test_candidates_keep_their_order_and_fall_back_to_the_default_country(self) -> None:
        resolved = resolve(
            [
                PhoneCandidate("not a phone", "US"),
                PhoneCandidate("55 1234 5678"),
                PhoneCandidate("6505551234", "US"),
            ],
            "MX",
        )
        assert resolved.e164 == "525512345678"
        assert resolved.keys == ("525512345678", "5215512345678", "16505551234")
        assert resolved.found_any

    def test_no_phone_and_only_unparseable_phones_differ(self) -> None:
        assert resolve([], "US").found_any is False
        nothing = resolve([PhoneCandidate("n/a", "US")], "US")
        assert (nothing.found_any, nothing.keys) == (True, ())


class History:
    def __init__(
        self, contacts: dict[str, dict[str, Any]], referrals: list[dict[str, Any]], inbound: list[int] = ()
    ) -> None:
        self.contacts = contacts
        self._referrals = referrals
        self._inbound = list(inbound)

    def find_contact(self, contact_keys: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
        for key in contact_keys:
            if key in self.contacts:
                return key, self.contacts[key]
        return None

    def referrals(self, contact_key: str) -> list[dict[str, Any]]:
        return sorted(self._referrals, key=lambda r: -r["received_at"])

    def inbound_between(self, contact_key: str, start: int, end: int) -> bool:
        return any(start <= t <= end for t in self._inbound)


def click(at: int, clid: str) -> dict[str, Any]:
    return {"received_at": at, "ctwa_clid": clid, "source_id": "ad-1", "source_type": "ad", "message_id": "m"}


SEVEN_DAYS = Windows.of_days(7, 7)
PHONES = resolve([PhoneCandidate("+5215512345678")], None)


class TestWindows:
    def profile(self, last_inbound: int) -> dict[str, Any]:
        return {"first_seen_at": T0, "last_inbound_at": last_inbound}

    def test_click_inside_the_window_gets_the_credit_through_the_mexican_form(self) -> None:
        history = History({"5215512345678": self.profile(T0)}, [click(T0, "A")])
        result = attribute(PHONES, T0 + 7 * DAY, history, SEVEN_DAYS)
        assert (result.status, result.ctwa_clid, result.contact_key) == (
            AttributionStatus.ATTRIBUTED,
            "A",
            "5215512345678",
        )

    def test_click_just_outside_the_window_does_not(self) -> None:
        history = History({"525512345678": self.profile(T0)}, [click(T0, "A")])
        result = attribute(PHONES, T0 + 7 * DAY + 1, history, SEVEN_DAYS)
        assert (result.status, result.reason) == (
            AttributionStatus.UNATTRIBUTED,
            UnmatchedReason.OUTSIDE_WINDOW,
        )

    def test_a_click_after_the_order_is_not_its_cause(self) -> None:
        history = History(
            {"525512345678": self.profile(T0 + DAY)}, [click(T0 + DAY, "LATER"), click(T0 - DAY, "EARLIER")]
        )
        assert attribute(PHONES, T0, history, SEVEN_DAYS).ctwa_clid == "EARLIER"

    def test_old_click_but_recent_message_is_whatsapp_influenced(self) -> None:
        history = History({"525512345678": self.profile(T0 + 9 * DAY)}, [click(T0, "A")])
        result = attribute(PHONES, T0 + 10 * DAY, history, SEVEN_DAYS)
        assert (result.status, result.reason, result.ctwa_clid) == (
            AttributionStatus.WHATSAPP_INFLUENCED,
            UnmatchedReason.OUTSIDE_WINDOW,
            None,
        )

    def test_message_inside_the_window_found_when_the_contact_wrote_again_later(self) -> None:
        history = History(
            {"525512345678": self.profile(T0 + 20 * DAY)}, [], inbound=[T0 - DAY, T0 + 20 * DAY]
        )
        result = attribute(PHONES, T0, history, SEVEN_DAYS)
        assert (result.status, result.reason) == (
            AttributionStatus.WHATSAPP_INFLUENCED,
            UnmatchedReason.NO_REFERRAL,
        )

    def test_no_contact(self) -> None:
        result = attribute(PHONES, T0, History({}, []), SEVEN_DAYS)
        assert (result.status, result.reason) == (AttributionStatus.UNATTRIBUTED, UnmatchedReason.NO_CONTACT)

    def test_without_windows_the_last_click_wins_however_old(self) -> None:
        history = History({"525512345678": self.profile(T0)}, [click(T0, "A")])
        assert attribute(PHONES, T0 + 90 * DAY, history, UNLIMITED).ctwa_clid == "A"


class TestShopifyParsing:
    def test_fixture_order(self) -> None:
        facts = shopify.order_facts(shopify.parse_order(json.dumps(fixture_order())))
        assert facts.order_id == "450789469"
        assert facts.name == "#1001"
        assert facts.email == "bob.norman@hostmail.com"
        assert facts.value is not None
        assert (facts.value.amount, facts.value.currency) == (Decimal("409.94"), "USD")
        assert facts.presentment_value is None  # the fixture predates presentment money
        assert [p.raw for p in facts.phones] == ["555-625-1199", "555-625-1199", "555-625-1199"]
        assert {p.country for p in facts.phones} == {"US"}
        assert next((i.sku, i.quantity, i.price) for i in facts.line_items) == (
            "IPOD2008GREEN",
            1,
            Decimal("199.00"),
        )
        assert facts.placed_at == 1199980800  # 2008-01-10T11:00:00-05:00
        assert facts.test is False

    def test_money_sets_give_shop_and_presentment_money(self) -> None:
        order = fixture_order() | {
            "presentment_currency": "EUR",
            "total_price_set": {
                "shop_money": {"amount": "409.94", "currency_code": "USD"},
                "presentment_money": {"amount": "377.15", "currency_code": "EUR"},
            },
        }
        facts = shopify.order_facts(shopify.parse_order(json.dumps(order)))
        assert facts.presentment_value is not None
        assert (facts.presentment_value.amount, facts.presentment_value.currency) == (
            Decimal("377.15"),
            "EUR",
        )

    def test_refund_amount_is_what_the_refund_transactions_gave_back(self) -> None:
        facts = shopify.refund_facts(shopify.parse_refund(json.dumps(sample_refund())))
        assert (facts.refund_id, facts.order_id) == ("509562969", "450789469")
        assert facts.value is not None
        assert (facts.value.amount, facts.value.currency) == (Decimal("204.97"), "USD")
        # the buyer's money: the line (199.00) with its tax (5.97), as the transaction says
        assert facts.presentment_value is not None and facts.presentment_value.amount == Decimal("204.97")


def captured_pending_refund() -> dict[str, Any]:
    """A real refunds/create webhook (Shopify Payments, CAD), published in the
    Aqua-Tech-Winnipeg/ecommerce_integrations repository, card holder details redacted: its one refund
    transaction is still "pending", for 277.61 = the line's 245.67 + 31.94 HST."""
    return json.loads((PAYLOADS / CAPTURED_REFUND).read_text())


def money(facts_money: Any) -> tuple[Decimal, str] | None:
    return (facts_money.amount, facts_money.currency) if facts_money is not None else None


class TestRefundValue:
    def test_a_pending_shopify_payments_refund_counts_in_full(self) -> None:
        facts = shopify.refund_facts(shopify.parse_refund(json.dumps(captured_pending_refund())))
        assert money(facts.value) == (Decimal("277.61"), "CAD")
        assert money(facts.presentment_value) == (Decimal("277.61"), "CAD")

    def test_without_transactions_the_lines_count_with_their_taxes(self) -> None:
        refund = captured_pending_refund() | {"transactions": []}
        facts = shopify.refund_facts(shopify.parse_refund(json.dumps(refund)))
        assert money(facts.value) == (Decimal("277.61"), "CAD")

    def test_refunded_shipping_counts_in_either_shape(self) -> None:
        # Shopify's REST Refund resource: refund_shipping_lines with subtotal_amount_set (2024-10 on);
        # older versions give only a negative "shipping_refund" order adjustment.
        cad = {"shop_money": {"amount": "5.00", "currency_code": "CAD"}}
        tax = {"shop_money": {"amount": "0.65", "currency_code": "CAD"}}
        negative = {"shop_money": {"amount": "-5.00", "currency_code": "CAD"}}
        shipping_lines = captured_pending_refund() | {
            "transactions": [],
            "refund_shipping_lines": [{"id": 1, "subtotal_amount_set": cad, "tax_amount_set": tax}],
        }
        adjustment = captured_pending_refund() | {
            "transactions": [],
            "order_adjustments": [{"kind": "shipping_refund", "amount_set": negative}],
        }
        for refund, expected in ((shipping_lines, "283.26"), (adjustment, "282.61")):
            facts = shopify.refund_facts(shopify.parse_refund(json.dumps(refund)))
            assert money(facts.value) == (Decimal(expected), "CAD")

    @pytest.mark.parametrize(
        ("status", "expected"), [("success", "277.61"), ("failure", "0"), ("error", "0")]
    )
    def test_failed_or_errored_transactions_gave_nothing_back(self, status: str, expected: str) -> None:
        refund = captured_pending_refund()
        refund["transactions"][0]["status"] = status
        facts = shopify.refund_facts(shopify.parse_refund(json.dumps(refund)))
        assert money(facts.value) == (Decimal(expected), "CAD")

    @pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "1e400", "-5.00", "sNaN"])
    def test_amounts_no_destination_could_take_are_unknown_not_poison(self, amount: str) -> None:
        order = fixture_order() | {"total_price": amount, "total_price_set": None}
        order["line_items"][0]["price"] = amount
        facts = shopify.order_facts(shopify.parse_order(json.dumps(order)))
        assert facts.value is None
        assert facts.line_items[0].price is None
        refund = captured_pending_refund()
        refund["transactions"][0]["amount"] = amount
        refund["refund_line_items"][0]["subtotal_set"]["shop_money"]["amount"] = amount
        assert shopify.refund_facts(shopify.parse_refund(json.dumps(refund))).value is None


class FakeMarkers:
    def __init__(self, log: list[str], seen: bool = False) -> None:
        self.log, self._seen = log, seen

    def seen(self, shop: str, event_id: str) -> bool:
        self.log.append(f"seen {event_id}")
        return self._seen

    def mark(self, shop: str, event_id: str) -> None:
        self.log.append(f"mark {event_id}")


class FakeQueue:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.bodies: list[str] = []

    def send(self, body: str) -> None:
        self.log.append("queue")
        self.bodies.append(body)


SHOP = "store.myshopify.com"


def accept(
    body: bytes, headers: dict[str, str], log: list[str], seen: bool = False
) -> tuple[shopify_ingest.Outcome, FakeQueue]:
    queue = FakeQueue(log)
    lowered = {k.lower(): v for k, v in headers.items()}
    outcome = shopify_ingest.accept_webhook(
        body,
        lowered,
        lambda shop: "s3cret" if shop == SHOP else None,
        lambda: FakeMarkers(log, seen),  # type: ignore[arg-type,return-value]
        lambda: queue,  # type: ignore[arg-type,return-value]
    )
    return outcome, queue


class TestIntake:
    def test_queue_before_marker_and_the_delivery_keeps_body_and_headers(self) -> None:
        body = json.dumps(fixture_order()).encode()
        headers = shopify_headers(body, "s3cret", shop=SHOP, topic="orders/create", event_id="e-1")
        log: list[str] = []
        outcome, queue = accept(body, headers, log)
        assert outcome.status == "accepted"
        assert log == ["seen e-1", "queue", "mark e-1"]
        queued = json.loads(queue.bodies[0])
        assert (queued["topic"], queued["shop"], queued["event_id"]) == ("orders/create", SHOP, "e-1")
        assert queued["body"] == body.decode()
        assert queued["api_version"] == headers["X-Shopify-API-Version"]

    def test_a_seen_event_is_not_queued_again(self) -> None:
        body = b'{"id": 1}'
        log: list[str] = []
        outcome, queue = accept(
            body,
            shopify_headers(body, "s3cret", shop=SHOP, topic="orders/paid", event_id="e-2"),
            log,
            seen=True,
        )
        assert (outcome.status, queue.bodies, log) == ("duplicate", [], ["seen e-2"])

    @pytest.mark.parametrize(("secret", "shop"), [("wrong", SHOP), ("s3cret", "other.myshopify.com")])
    def test_wrong_secret_or_unknown_shop_is_unauthorized_before_anything_else(
        self, secret: str, shop: str
    ) -> None:
        body = b"not even json"
        log: list[str] = []
        with pytest.raises(UnauthorizedError):
            accept(body, shopify_headers(body, secret, shop=shop, topic="orders/create"), log)
        assert log == []

    def test_verified_but_malformed_body_is_a_bad_request(self) -> None:
        body = b"[1, 2"
        with pytest.raises(BadRequestError):
            accept(body, shopify_headers(body, "s3cret", shop=SHOP, topic="orders/create"), [])

    def test_oversized_order_is_queued_trimmed_to_what_attribution_reads(self) -> None:
        order = fixture_order() | {"note": "x" * 300_000}
        body = json.dumps(order).encode()
        _, queue = accept(body, shopify_headers(body, "s3cret", shop=SHOP, topic="orders/create"), [])
        queued = json.loads(json.loads(queue.bodies[0])["body"])
        assert "note" not in queued
        assert queued["id"] == order["id"]
        assert queued["billing_address"]["phone"] == "555-625-1199"
        assert len(queue.bodies[0]) < shopify_ingest.MAX_MESSAGE_BYTES


class TestWhichPhone:
    def test_the_buyers_best_phone_leaves_the_gift_recipients_for_last(self) -> None:
        order = sc.order(order_id=1, created_at=T0, phone="+1 212 555 0199", where="shipping_address")
        order["customer"]["default_address"]["phone"] = "+1 650 555 1234"
        facts = shopify.order_facts(shopify.parse_order(json.dumps(order)))
        assert resolve(facts.phones, None).e164 == "16505551234"

    def test_the_matched_contacts_number_beats_every_phone_on_the_order(self) -> None:
        contact = Attribution(AttributionStatus.ATTRIBUTED, None, "5215512345678", ctwa_clid="A")
        assert conversion_phone(contact, "12125550199") == "5215512345678"
        unmatched = Attribution(AttributionStatus.UNATTRIBUTED, UnmatchedReason.NO_CONTACT, None)
        assert conversion_phone(unmatched, "12125550199") == "12125550199"
        only_user_id = Attribution(AttributionStatus.WHATSAPP_INFLUENCED, None, "uid:US.13491208655302741918")
        # An order's phone is not the number of a contact known by user id alone (a link token matched it).
        assert conversion_phone(only_user_id, "12125550199") is None
        # An off-thread event's lead_phone is the lead's own number, named by the caller.
        assert conversion_phone(only_user_id, "12125550199", buyer_is_the_lead=True) == "12125550199"


def external(**revenue: Any) -> dict[str, Any]:
    return {"lead_phone": "+16505551234", "action": "Booked", "revenue": revenue}


def send(**fields: Any) -> dict[str, Any]:
    return {"accountId": "1", "eventName": "Purchase", "eventId": "e1", "phoneE164": "16505551234", **fields}


def refusal(body: dict[str, Any], model: str) -> tuple[int, str | None]:
    try:
        if model == "external":
            ExternalEventRequest.from_body(body)
        else:
            parse_send_request(body)
    except ValidationError as error:
        problem = validation_error(error)
        return problem.status_code, problem.field
    except ApiError as error:
        return error.status_code, error.field
    return 200, None


class TestAcceptedMoney:
    """Every accepted amount is one every destination can take: a JSON number, finite, not negative,
    below 10^12 and in the currency's precision; anything else is a 422 naming the field."""

    @pytest.mark.parametrize(
        "amount",
        [True, "1e400", "12.50", float("inf"), float("nan"), -1, 10**12, 1e300, 10.005, None, [], {}],
    )
    def test_bad_revenue_amounts_are_refused(self, amount: Any) -> None:
        assert refusal(external(amount=amount, currency="USD"), "external") == (422, "revenue.amount")

    @pytest.mark.parametrize(("amount", "currency"), [(1.5, "JPY"), (1.2345, "KWD"), (0.001, "EUR")])
    def test_more_decimals_than_the_currency_has_are_refused(self, amount: float, currency: str) -> None:
        assert refusal(external(amount=amount, currency=currency), "external") == (422, "revenue.amount")

    @pytest.mark.parametrize(
        ("amount", "currency"), [(0, "EUR"), (80, "MXN"), (10.5, "eur"), (1500, "JPY"), (1.234, "KWD")]
    )
    def test_good_revenue_is_accepted(self, amount: float, currency: str) -> None:
        assert refusal(external(amount=amount, currency=currency), "external") == (200, None)

    def test_revenue_is_optional_as_360dialog_makes_it(self) -> None:
        request = ExternalEventRequest.from_body({"lead_phone": "+16505551234", "action": "Visited"})
        assert request.revenue is None

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"value": True, "currency": "USD"}, "value"),
            ({"value": 1e400, "currency": "USD"}, "value"),
            ({"value": "59.90", "currency": "USD"}, "value"),
            ({"value": 10**13, "currency": "USD"}, "value"),
            ({"value": 1.001, "currency": "USD"}, "value"),
            ({"value": 1, "currency": "ABC"}, "currency"),
            ({"value": 1, "currency": True}, "currency"),
            ({"value": 1, "currency": "USD", "eventTime": True}, "eventTime"),
            ({"value": 1, "currency": "USD", "eventTime": 10**20}, "eventTime"),
            ({"value": 1, "currency": "USD", "eventTime": "1750000000"}, "eventTime"),
        ],
    )
    def test_post_conversions_refuses_what_a_destination_could_not_take(
        self, fields: dict[str, Any], field: str
    ) -> None:
        assert refusal(send(**fields), "send") == (422, field)

    def test_post_conversions_takes_a_plain_price(self) -> None:
        request = parse_send_request(send(value=59.9, currency="eur", eventTime=T0))
        assert (request.value, request.currency, request.event_time) == (Decimal("59.9"), "EUR", T0)

    def test_occurred_at_must_be_a_time_that_can_have_happened(self) -> None:
        for occurred in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00", "2999-01-01T00:00:00Z"):
            body = {"lead_phone": "+16505551234", "action": "Booked", "occurred_at": occurred}
            assert refusal(body, "external") == (422, "occurred_at")
