"""Shopify orders and off-thread events through the real handlers against moto: the webhook's
verification and dedupe, the processor's attribution and follow-ups, the bus, and the attribution API."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from devstack.sample_events import ROOT, proxy_event
from devstack.shopify_samples import shopify_post
from tests.integration.conftest import CaptureHarness
from tests.support import attribution as sc
from tests.support.lambdas import sqs_event

REFERRAL_AT = 1_750_000_000
ORDERS_DLQ = "orders-dlq"
TABLE = "wa-conversions-table"
# A real refunds/create (Shopify Payments, pending), from Aqua-Tech-Winnipeg/ecommerce_integrations.
CAPTURED_REFUND = (
    ROOT
    / "events"
    / "payloads"
    / ("shopify_refund_pending_shopify_payments_captured_aqua_tech_winnipeg_ecommerce_integrations.json")
)
CONTACT = "16505551234"  # the WhatsApp contact who clicked the ad
SOMEONE_ELSE = "+1 212 555 0199"  # the order's top-level phone: a partner's, a gift's recipient's
# An order without a link token whose phone found the contact (docs/shopify.md).
PHONE_MATCHED = [{"key": "token", "outcome": "not_in_order"}, {"key": "phone", "outcome": "matched"}]


@dataclass
class AttributionHarness:
    capture: CaptureHarness
    orders_url: str
    orders_dlq_url: str

    @property
    def env(self) -> dict[str, str]:
        return self.capture.env

    def whatsapp(self, body: bytes) -> None:
        from devstack.sample_events import whatsapp_post

        response = self.capture.post(whatsapp_post(body, self.env["WHATSAPP_APP_SECRET"]))
        assert response["statusCode"] == 200, response
        self.capture.drain()

    def post_shopify(
        self,
        payload: dict[str, Any] | bytes,
        topic: str = "orders/create",
        *,
        event_id: str | None = None,
        secret: str | None = None,
        shop: str | None = None,
    ) -> dict[str, Any]:
        body = payload if isinstance(payload, bytes) else sc.encode(payload)
        event = shopify_post(
            body,
            secret or self.env["SHOPIFY_WEBHOOK_SECRET"],
            shop=shop or self.env["SHOPIFY_SHOP_DOMAIN"],
            topic=topic,
            event_id=event_id,
        )
        return self.capture.invoke("shopify_webhook", event)

    def drain_orders(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        responses = []
        for _ in range(20):
            received = sqs.receive_message(QueueUrl=self.orders_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not received:
                break
            event = sqs_event([m["Body"] for m in received])
            response = self.capture.invoke("orders_processor", event)
            responses.append(response)
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            for record, message in zip(event["Records"], received, strict=True):
                if record["messageId"] not in failed:
                    sqs.delete_message(QueueUrl=self.orders_url, ReceiptHandle=message["ReceiptHandle"])
        return responses

    def order(self, payload: dict[str, Any], topic: str = "orders/create", **kwargs: Any) -> dict[str, Any]:
        response = self.post_shopify(payload, topic, **kwargs)
        assert response["statusCode"] == 200, response
        self.drain_orders()
        return response

    def conversion_events(self) -> list[dict[str, Any]]:
        return [
            e
            for e in self.capture.bus_events()
            if e["detail-type"].startswith(("conversion.", "order.", "refund."))
        ]

    def api(
        self,
        method: str,
        path: str,
        resource: str,
        params: dict[str, str] | None = None,
        body: Any = None,
        query: dict[str, str] | None = None,
        api_key: str | None = "",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        return self.api_response(method, path, resource, params, body, query, api_key, headers)[:2]

    def api_response(
        self,
        method: str,
        path: str,
        resource: str,
        params: dict[str, str] | None = None,
        body: Any = None,
        query: dict[str, str] | None = None,
        api_key: str | None = "",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """Status, JSON body and response headers (lower-cased names)."""
        key = {} if api_key is None else {"X-Api-Key": api_key or self.env["API_KEY"]}
        event = proxy_event(
            method,
            path,
            resource=resource,
            headers={"Content-Type": "application/json", **key, **(headers or {})},
            path_parameters=params,
            query=query,
            body=json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body,
        )
        response = self.capture.invoke("attribution_api", event)
        answer_headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            answer_headers.setdefault(name.lower(), values[0])
        return response["statusCode"], json.loads(response["body"]), answer_headers

    def get_order(self, order_id: int, **query: str) -> tuple[int, Any]:
        return self.api(
            "GET",
            f"/orders/{order_id}",
            "/orders/{order_id}",
            {"order_id": str(order_id)},
            query=query or None,
        )

    def post_external(self, body: Any, key: str | None = None) -> tuple[int, Any]:
        return self.post_external_response(body, key)[:2]

    def post_external_response(self, body: Any, key: str | None = None) -> tuple[int, Any, dict[str, str]]:
        headers = {"Idempotency-Key": key} if key is not None else None
        return self.api_response("POST", "/external-events", "/external-events", body=body, headers=headers)

    def external_items(self) -> list[dict[str, Any]]:
        table = boto3.client("dynamodb")
        items = table.scan(TableName=TABLE)["Items"]
        return [i for i in items if i["pk"]["S"].startswith("EXTERNAL#")]


@pytest.fixture
def world(harness: CaptureHarness, monkeypatch: pytest.MonkeyPatch) -> Iterator[AttributionHarness]:
    from wa_conversions import reset

    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName=ORDERS_DLQ)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    orders_url = sqs.create_queue(
        QueueName="orders",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})},
    )["QueueUrl"]
    monkeypatch.setenv("ORDERS_QUEUE_URL", orders_url)
    monkeypatch.setenv("SHOPIFY_SHOP_DOMAIN", harness.env["SHOPIFY_SHOP_DOMAIN"])
    # The orders processor's DLQ; the capture processor shares the variable but parks nothing here.
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq_url)
    reset()
    yield AttributionHarness(capture=harness, orders_url=orders_url, orders_dlq_url=dlq_url)
    reset()


def only(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [e for e in events if e["detail-type"] == name]
    assert len(found) == 1, [e["detail-type"] for e in events]
    return found[0]


def _no_call() -> Any:
    raise AssertionError("building a request must not reach the destination")


def destination_requests(event: dict[str, Any]) -> dict[str, Any]:
    """What each destination's forwarder makes of a conversion event off the bus: the request it
    would send (Wax's and 360dialog's bodies, Meta's server event, CM.com's addressee), or why not."""
    from wa_conversions.config import CmConversionsSettings, Dialog360Settings, MetaCapiSettings, WaxSettings
    from wa_conversions.forwarding.cm import CmConversionsDestination
    from wa_conversions.forwarding.conversion import parse_conversion
    from wa_conversions.forwarding.dialog360 import Dialog360Destination
    from wa_conversions.forwarding.meta_capi import MetaCapiDestination
    from wa_conversions.forwarding.wax import WaxDestination

    conversion = parse_conversion(event)
    common = {"TABLE_NAME": TABLE, "DELIVERY_QUEUE_URL": "q", "DELIVERY_DLQ_URL": "d"}
    wax = WaxDestination(
        WaxSettings.model_validate({**common, "WAX_BASE_URL": "https://wax.test"}), _no_call, _no_call
    )
    meta = MetaCapiDestination(
        MetaCapiSettings.model_validate({**common, "META_DATASET_ID": "1"}),
        _no_call,
        _no_call,
        clock=lambda: conversion.event_time + 60,  # sent right away, not a year later
    )
    cm = CmConversionsDestination(
        CmConversionsSettings.model_validate({**common, "CM_BUSINESS_NUMBER": "31600000000"}),
        _no_call,
        _no_call,
    )
    dialog = Dialog360Destination(
        Dialog360Settings.model_validate({**common, "DIALOG360_CLIENT_ID": "c"}),
        _no_call,
        _no_call,
        None,  # type: ignore[arg-type]  # the delivery log is read at send time only
    )
    return {d.name: d.request_for(conversion) for d in (wax, meta, cm, dialog)}


# -- attribution ---------------------------------------------------------------------------------


class TestOrderAttribution:
    def test_order_two_days_after_the_click_in_national_format_is_attributed(
        self, world: AttributionHarness
    ) -> None:
        world.whatsapp(sc.referral_webhook("16505551234", REFERRAL_AT, "CLID-A", "wamid.A1"))
        world.capture.bus_events()

        world.order(sc.order(order_id=1001, created_at=REFERRAL_AT + 2 * sc.DAY, phone="(650) 555-1234"))

        event = only(world.conversion_events(), "conversion.attributed")
        detail = event["detail"]
        props = detail["properties"]
        assert detail["context"]["provider"] == "shopify"
        assert detail["userId"] == "+16505551234"
        assert props["conversionId"] == f"shopify:{sc.SHOP}:1001"
        assert props["eventId"] == f"shopify:{sc.SHOP}:1001:order"
        assert props["ctwaClid"] == "CLID-A"
        assert props["sourceId"] == "120226305854810726"
        assert props["contactKey"] == "16505551234"
        assert props["attribution"] == {
            "status": "attributed",
            "model": "last_touch",
            "reason": None,
            "keysTried": PHONE_MATCHED,
        }
        assert props["value"] == 409.94
        assert props["currency"] == "USD"
        assert props["phone"] == "16505551234"
        assert props["email"] == "bob.norman@hostmail.com"
        assert [item["sku"] for item in props["lineItems"]] == [
            "IPOD2008GREEN",
            "IPOD2008RED",
            "IPOD2008BLACK",
        ]
        assert props["lineItems"][0] == {
            "id": "466157049",
            "productId": "632910392",
            "variantId": "39072856",
            "sku": "IPOD2008GREEN",
            "title": "IPod Nano - 8gb",
            "quantity": 1,
            "price": 199.0,
        }
        assert props["test"] is False
        assert detail["timestamp"].startswith("2025-06-17")

        status, view = world.get_order(1001)
        assert status == 200
        assert view["attribution"]["status"] == "attributed"
        assert view["attribution"]["ctwa_clid"] == "CLID-A"
        assert view["value"] == {"amount": "409.94", "currency": "USD"}
        assert view["published"] is True

    def test_order_nine_days_after_the_click_is_unattributed_outside_the_window(
        self, world: AttributionHarness
    ) -> None:
        world.whatsapp(sc.referral_webhook("16505551234", REFERRAL_AT, "CLID-A", "wamid.A1"))
        world.order(sc.order(order_id=1002, created_at=REFERRAL_AT + 9 * sc.DAY, phone="650-555-1234"))

        props = only(world.conversion_events(), "conversion.unattributed")["detail"]["properties"]
        assert props["attribution"] == {
            "status": "unattributed",
            "model": "last_touch",
            "reason": "outside_window",
            "keysTried": PHONE_MATCHED,
        }
        assert props["ctwaClid"] is None
        assert props["contactKey"] == "16505551234"

    def test_latest_click_in_the_window_wins(self, world: AttributionHarness) -> None:
        world.whatsapp(sc.referral_webhook("16505551234", REFERRAL_AT, "CLID-OLD", "wamid.A1"))
        world.whatsapp(sc.referral_webhook("16505551234", REFERRAL_AT + sc.DAY, "CLID-NEW", "wamid.A2"))
        world.whatsapp(sc.referral_webhook("16505551234", REFERRAL_AT + 5 * sc.DAY, "CLID-AFTER", "wamid.A3"))
        world.order(sc.order(order_id=1003, created_at=REFERRAL_AT + 2 * sc.DAY, phone="+1 650 555 1234"))

        props = only(world.conversion_events(), "conversion.attributed")["detail"]["properties"]
        assert props["ctwaClid"] == "CLID-NEW"

    def test_contact_who_wrote_without_an_ad_is_whatsapp_influenced(self, world: AttributionHarness) -> None:
        world.whatsapp(sc.text_webhook("16505551234", REFERRAL_AT, "wamid.T1"))
        world.order(sc.order(order_id=1004, created_at=REFERRAL_AT + 3 * sc.DAY, phone="6505551234"))

        props = only(world.conversion_events(), "conversion.attributed")["detail"]["properties"]
        assert props["attribution"] == {
            "status": "whatsapp_influenced",
            "model": "last_touch",
            "reason": "no_referral",
            "keysTried": PHONE_MATCHED,
        }
        assert props["ctwaClid"] is None

    @pytest.mark.parametrize(
        ("wa_id", "phone", "country"),
        [
            ("5215512345678", "55 1234 5678", "MX"),  # WhatsApp's Mexican form carries a 1 after 52
            ("525512345678", "+52 1 55 1234 5678", "MX"),
            ("551187654321", "(11) 98765-4321", "BR"),  # a Brazilian wa_id without the ninth digit
            ("5511987654321", "(11) 8765-4321", "BR"),
        ],
    )
    def test_whatsapp_forms_of_mexican_and_brazilian_numbers_match(
        self, world: AttributionHarness, wa_id: str, phone: str, country: str
    ) -> None:
        world.whatsapp(sc.referral_webhook(wa_id, REFERRAL_AT, "CLID-X", "wamid.X1"))
        world.order(sc.order(order_id=1005, created_at=REFERRAL_AT + 3600, phone=phone, country=country))

        props = only(world.conversion_events(), "conversion.attributed")["detail"]["properties"]
        assert props["contactKey"] == wa_id
        assert props["ctwaClid"] == "CLID-X"

    @pytest.mark.parametrize(
        ("phone", "reason"),
        [(None, "no_phone"), ("call me maybe", "unparseable_phone"), ("(212) 555-0199", "no_contact")],
    )
    def test_unmatched_orders_say_why(
        self, world: AttributionHarness, phone: str | None, reason: str
    ) -> None:
        world.order(sc.order(order_id=1006, created_at=REFERRAL_AT, phone=phone))

        props = only(world.conversion_events(), "conversion.unattributed")["detail"]["properties"]
        assert props["attribution"]["reason"] == reason
        status, view = world.get_order(1006)
        assert (status, view["attribution"]["reason"]) == (200, reason)

    def test_test_orders_are_attributed_and_marked(self, world: AttributionHarness) -> None:
        world.whatsapp(sc.referral_webhook("16505551234", REFERRAL_AT, "CLID-A", "wamid.A1"))
        world.order(sc.order(order_id=1007, created_at=REFERRAL_AT + 60, phone="6505551234", test=True))

        props = only(world.conversion_events(), "conversion.attributed")["detail"]["properties"]
        assert props["test"] is True
        assert world.get_order(1007)[1]["test"] is True

    def test_every_destination_gets_the_attributed_contacts_phone_not_the_orders_other_one(
        self, world: AttributionHarness
    ) -> None:
        world.whatsapp(sc.referral_webhook(CONTACT, REFERRAL_AT, "CLID-A", "wamid.A1"))
        placed = sc.order(
            order_id=1008, created_at=REFERRAL_AT + 2 * sc.DAY, phone="(650) 555-1234", where="customer"
        )
        placed["phone"] = SOMEONE_ELSE
        world.order(placed)
        world.order(
            sc.refund(refund_id=33, order_id=1008, created_at=REFERRAL_AT + 3 * sc.DAY), "refunds/create"
        )

        events = world.conversion_events()
        order = only(events, "conversion.attributed")
        assert order["detail"]["properties"]["contactKey"] == CONTACT
        assert (order["detail"]["userId"], order["detail"]["properties"]["phone"]) == (f"+{CONTACT}", CONTACT)
        sent = destination_requests(order)
        assert sent["wax"].body["phone_number"] == CONTACT
        assert sent["meta"].event["user_data"]["ph"] == [hashlib.sha256(CONTACT.encode()).hexdigest()]
        assert sent["meta"].event["user_data"]["ctwa_clid"] == "CLID-A"
        assert sent["cm"].to == f"00{CONTACT}"
        assert sent["dialog360"].event["lead_phone"] == CONTACT
        refund = destination_requests(only(events, "refund.created"))
        assert refund["wax"].body["phone_number"] == CONTACT
        assert refund["dialog360"].event["lead_phone"] == CONTACT

    def test_an_unmatched_order_goes_out_with_the_buyers_phone(self, world: AttributionHarness) -> None:
        placed = sc.order(
            order_id=1009, created_at=REFERRAL_AT, phone="+1 212 555 0199", where="shipping_address"
        )
        placed["customer"]["default_address"]["phone"] = "(650) 555-1234"
        world.order(placed)

        props = only(world.conversion_events(), "conversion.unattributed")["detail"]["properties"]
        assert props["phone"] == "16505551234"  # the buyer's own, not the gift recipient's

    def test_amounts_no_destination_could_take_are_stored_and_sent_as_unknown(
        self, world: AttributionHarness
    ) -> None:
        placed = sc.order(order_id=1010, created_at=REFERRAL_AT, phone=None) | {"total_price": "1e400"}
        placed["line_items"][0]["price"] = "NaN"
        world.order(placed)

        props = only(world.conversion_events(), "conversion.unattributed")["detail"]["properties"]
        assert (props["value"], props["lineItems"][0]["price"]) == (None, None)
        view = world.get_order(1010)[1]
        assert (view["value"], view["line_items"][0]["price"]) == (None, None)


# -- follow-ups ----------------------------------------------------------------------------------


class TestFollowUps:
    def test_paid_cancelled_and_refund_attach_to_the_order(self, world: AttributionHarness) -> None:
        world.whatsapp(sc.referral_webhook("16505551234", REFERRAL_AT, "CLID-A", "wamid.A1"))
        placed = sc.order(order_id=2001, created_at=REFERRAL_AT + 60, phone="6505551234")
        world.order(placed)
        world.order(placed, "orders/paid")
        world.order(sc.refund(refund_id=31, order_id=2001, created_at=REFERRAL_AT + sc.DAY), "refunds/create")
        world.order({**placed, "cancelled_at": sc.iso(REFERRAL_AT + 2 * sc.DAY)}, "orders/cancelled")

        events = world.conversion_events()
        assert sorted(e["detail-type"] for e in events) == [
            "conversion.attributed",
            "order.cancelled",
            "order.paid",
            "refund.created",
        ]
        refund = only(events, "refund.created")["detail"]["properties"]
        assert refund["value"] == 204.97
        assert refund["currency"] == "USD"
        assert refund["ctwaClid"] == "CLID-A"
        assert refund["orderKnown"] is True
        assert refund["eventId"] == f"shopify:{sc.SHOP}:2001:refund:31"
        paid = only(events, "order.paid")["detail"]["properties"]
        assert (paid["kind"], paid["ctwaClid"], paid["value"]) == ("order_paid", "CLID-A", 409.94)

        view = world.get_order(2001)[1]
        follow_ups = {f["kind"]: f for f in view["follow_ups"]}
        assert sorted(follow_ups) == ["order_cancelled", "order_paid", "refund"]
        assert follow_ups["refund"]["value"] == {"amount": "204.97", "currency": "USD"}
        assert follow_ups["refund"]["id"] == "31"

    def test_paid_first_computes_the_attribution_once(self, world: AttributionHarness) -> None:
        world.whatsapp(sc.referral_webhook("16505551234", REFERRAL_AT, "CLID-A", "wamid.A1"))
        placed = sc.order(order_id=2002, created_at=REFERRAL_AT + 60, phone="6505551234")
        world.order(placed, "orders/paid")
        world.order(placed, "orders/create")

        assert sorted(e["detail-type"] for e in world.conversion_events()) == [
            "conversion.attributed",
            "order.paid",
        ]
        assert world.get_order(2002)[1]["attribution"]["ctwa_clid"] == "CLID-A"

    def test_a_pending_shopify_payments_refund_is_worth_what_it_gives_back(
        self, world: AttributionHarness
    ) -> None:
        world.order(json.loads(CAPTURED_REFUND.read_text()), "refunds/create")

        props = only(world.conversion_events(), "refund.created")["detail"]["properties"]
        assert (props["value"], props["currency"]) == (277.61, "CAD")  # 245.67 + 31.94 HST
        [refund] = world.get_order(6749596057880)[1]["follow_ups"]
        assert refund["value"] == {"amount": "277.61", "currency": "CAD"}

    def test_refund_of_an_unseen_order_is_recorded_as_such(self, world: AttributionHarness) -> None:
        world.order(sc.refund(refund_id=32, order_id=2999, created_at=REFERRAL_AT), "refunds/create")

        props = only(world.conversion_events(), "refund.created")["detail"]["properties"]
        assert props["orderKnown"] is False
        assert props["value"] == 204.97
        status, view = world.get_order(2999)
        assert status == 200
        assert view["known"] is False
        assert view["follow_ups"][0]["order_known"] is False


# -- the webhook ---------------------------------------------------------------------------------


class TestWebhook:
    def test_same_delivery_three_times_makes_one_attribution_and_one_event(
        self, world: AttributionHarness
    ) -> None:
        placed = sc.order(order_id=3001, created_at=REFERRAL_AT, phone="6505551234")
        answers = [world.post_shopify(placed, event_id="evt-3001")["statusCode"] for _ in range(3)]
        world.drain_orders()

        assert answers == [200, 200, 200]
        assert len(world.conversion_events()) == 1

    def test_a_duplicate_that_slips_past_the_marker_still_makes_one_event(
        self, world: AttributionHarness
    ) -> None:
        placed = sc.order(order_id=3002, created_at=REFERRAL_AT, phone="6505551234")
        world.order(placed, event_id="evt-3002")
        # A crash between queueing and marking: the marker is gone, Shopify's retry gets through.
        boto3.client("dynamodb").delete_item(
            TableName="wa-conversions-idempotency", Key={"id": {"S": f"shopify-event#{sc.SHOP}#evt-3002"}}
        )
        world.order(placed, event_id="evt-3002")

        assert len(world.conversion_events()) == 1
        assert len(world.get_order(3002)[1]["follow_ups"]) == 0

    def test_signature_problems_are_401_and_queue_nothing(self, world: AttributionHarness) -> None:
        placed = sc.encode(sc.order(order_id=3003, created_at=REFERRAL_AT, phone=None))
        other_shop = world.post_shopify(placed, secret="another-shops-secret")
        unknown_shop = world.post_shopify(placed, shop="stranger.myshopify.com")
        unsigned = shopify_post(placed, "x", shop=sc.SHOP, topic="orders/create")
        del unsigned["headers"]["x-shopify-hmac-sha256"]

        assert other_shop["statusCode"] == 401
        assert json.loads(other_shop["body"])["error"] == "unauthorized"
        assert unknown_shop["statusCode"] == 401
        assert world.capture.invoke("shopify_webhook", unsigned)["statusCode"] == 401
        assert world.drain_orders() == []

    def test_header_names_are_case_insensitive(self, world: AttributionHarness) -> None:
        body = sc.encode(sc.order(order_id=3004, created_at=REFERRAL_AT, phone=None))
        event = shopify_post(body, world.env["SHOPIFY_WEBHOOK_SECRET"], shop=sc.SHOP, topic="orders/create")
        event["headers"] = {k.lower(): v for k, v in event["headers"].items()}
        assert world.capture.invoke("shopify_webhook", event)["statusCode"] == 200

    def test_malformed_json_is_400_with_a_json_error(self, world: AttributionHarness) -> None:
        response = world.post_shopify(b'{"id": 1,')
        assert response["statusCode"] == 400
        assert json.loads(response["body"])["error"] == "bad_request"

    def test_unhandled_topic_is_acknowledged_and_ignored(self, world: AttributionHarness) -> None:
        response = world.post_shopify({"id": 1}, "products/update")
        assert response["statusCode"] == 200
        assert json.loads(response["body"]) == {"status": "ignored"}
        assert world.drain_orders() == []

    def test_several_shops_each_with_its_secret(self, world: AttributionHarness) -> None:
        boto3.client("ssm").put_parameter(
            Name="/wa-conversions/shopify-webhook-secrets",
            Value=json.dumps({"second-store.myshopify.com": "second-secret"}),
            Type="SecureString",
        )
        placed = sc.order(order_id=3005, created_at=REFERRAL_AT, phone=None)
        good = world.post_shopify(placed, shop="Second-Store.myshopify.com", secret="second-secret")
        crossed = world.post_shopify(placed, shop="second-store.myshopify.com")
        world.drain_orders()

        assert (good["statusCode"], crossed["statusCode"]) == (200, 401)
        status, view = world.get_order(3005)
        assert (status, view["shop"]) == (200, "second-store.myshopify.com")

    def test_a_payload_that_is_not_an_order_is_parked_with_its_reason(
        self, world: AttributionHarness
    ) -> None:
        world.order({"note": "no id here"})

        parked = boto3.client("sqs").receive_message(
            QueueUrl=world.orders_dlq_url, MessageAttributeNames=["All"]
        )["Messages"]
        assert len(parked) == 1
        assert "id" in parked[0]["MessageAttributes"]["reason"]["StringValue"]
        assert world.conversion_events() == []


# -- the API -------------------------------------------------------------------------------------


class TestAttributionApi:
    def test_unknown_order_is_404_and_the_key_is_required(self, world: AttributionHarness) -> None:
        assert world.get_order(424242)[0] == 404
        status, body = world.api("GET", "/orders/1", "/orders/{order_id}", {"order_id": "1"}, api_key=None)
        assert (status, body["error"]) == (401, "unauthorized")

    def test_off_thread_event_goes_to_the_last_conversation_and_chains(
        self, world: AttributionHarness
    ) -> None:
        world.whatsapp(sc.referral_webhook("16505551234", REFERRAL_AT, "CLID-FIRST", "wamid.E1"))
        status, first = world.post_external(
            {"lead_phone": "+16505551234", "action": "Booked", "revenue": {"amount": 0, "currency": "EUR"}}
        )
        assert status == 201
        assert first["attribution"]["ctwa_clid"] == "CLID-FIRST"

        world.whatsapp(sc.referral_webhook("16505551234", REFERRAL_AT + 60, "CLID-SECOND", "wamid.E2"))
        status, chained = world.post_external(
            {
                "lead_phone": "+16505551234",
                "action": "Purchased an item",
                "revenue": {"amount": 10.5, "currency": "eur"},
                "previous_external_event_id": first["external_event_id"],
            }
        )
        _, latest = world.post_external(
            {"lead_phone": "16505551234", "action": "Booked", "revenue": {"amount": 0, "currency": "EUR"}}
        )

        assert status == 201
        assert chained["attribution"]["ctwa_clid"] == "CLID-FIRST"
        assert latest["attribution"]["ctwa_clid"] == "CLID-SECOND"
        events = [e for e in world.conversion_events() if e["detail"]["context"]["provider"] == "external"]
        assert len(events) == 3
        chained_event = next(
            e
            for e in events
            if e["detail"]["properties"]["previousExternalEventId"] == first["external_event_id"]
        )
        props = chained_event["detail"]["properties"]
        assert (props["value"], props["currency"], props["eventName"]) == (10.5, "EUR", "Purchase")
        status, stored = world.api(
            "GET",
            f"/external-events/{chained['external_event_id']}",
            "/external-events/{external_event_id}",
            {"external_event_id": chained["external_event_id"]},
        )
        assert status == 200
        assert stored["previous_external_event_id"] == first["external_event_id"]
        assert stored["revenue"] == {"amount": "10.5", "currency": "EUR"}

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"action": "Booked", "revenue": {"amount": 1, "currency": "EUR"}}, "lead_phone"),
            ({"lead_phone": "+16505551234", "revenue": {"amount": 1, "currency": "EUR"}}, "action"),
            (
                {"lead_phone": "+16505551234", "action": "Booked", "revenue": {"currency": "EUR"}},
                "revenue.amount",
            ),
            (
                {"lead_phone": "+1650", "action": "Booked", "revenue": {"amount": True, "currency": "EUR"}},
                "revenue.amount",
            ),
            (
                {
                    "lead_phone": "+1650",
                    "action": "Booked",
                    "revenue": {"amount": "1e400", "currency": "EUR"},
                },
                "revenue.amount",
            ),
            (
                b'{"lead_phone": "+1650", "action": "Booked", "revenue": {"amount": 1e400, "currency": "EUR"}'
                b"}",
                "revenue.amount",
            ),
            (
                {"lead_phone": "+1650", "action": "Booked", "revenue": {"amount": 10.005, "currency": "USD"}},
                "revenue.amount",
            ),
            (
                {"lead_phone": "+1650", "action": "Booked", "revenue": {"amount": 1, "currency": "ABC"}},
                "revenue.currency",
            ),
            ({"lead_phone": "+1650", "action": "Booked", "revenue": {"amount": 1}}, "revenue.currency"),
        ],
    )
    def test_missing_field_or_bad_currency_is_422_naming_it(
        self, world: AttributionHarness, body: dict[str, Any] | bytes, field: str
    ) -> None:
        status, answer = world.post_external(body)
        assert status == 422
        assert answer["field"] == field
        assert world.external_items() == []
        assert world.conversion_events() == []

    def test_an_event_without_revenue_is_recorded_and_goes_out_without_one(
        self, world: AttributionHarness
    ) -> None:
        world.whatsapp(sc.referral_webhook(CONTACT, REFERRAL_AT, "CLID-V", "wamid.V1"))
        status, created = world.post_external({"lead_phone": f"+{CONTACT}", "action": "Visited the showroom"})

        assert status == 201, created
        assert created["attribution"]["ctwa_clid"] == "CLID-V"
        [event] = world.conversion_events()
        props = event["detail"]["properties"]
        assert (props["value"], props["currency"], props["eventName"]) == (None, None, "LeadSubmitted")
        assert destination_requests(event)["dialog360"].event == {
            "action": "Visited the showroom",
            "lead_phone": CONTACT,
        }
        _, stored = world.api(
            "GET",
            f"/external-events/{created['external_event_id']}",
            "/external-events/{external_event_id}",
            {"external_event_id": created["external_event_id"]},
        )
        assert stored["revenue"] is None

    def test_unknown_previous_event_is_404(self, world: AttributionHarness) -> None:
        status, answer = world.post_external(
            {
                "lead_phone": "+16505551234",
                "action": "Booked",
                "revenue": {"amount": 1, "currency": "USD"},
                "previous_external_event_id": "nope",
            }
        )
        assert status == 404
        assert answer["field"] == "previous_external_event_id"


# -- Idempotency-Key -----------------------------------------------------------------------------

BOOKING = {"lead_phone": f"+{CONTACT}", "action": "Booked", "revenue": {"amount": 80, "currency": "MXN"}}


def idempotency_item(key: str) -> dict[str, Any]:
    item = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": f"IDEMPOTENCY#external-events#{key}"}, "sk": {"S": "IDEMPOTENCY"}}
    )["Item"]
    return item


def set_claim(key: str, **numbers: int) -> None:
    boto3.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"IDEMPOTENCY#external-events#{key}"}, "sk": {"S": "IDEMPOTENCY"}},
        UpdateExpression="SET " + ", ".join(f"{name} = :{name}" for name in numbers),
        ExpressionAttributeValues={f":{name}": {"N": str(value)} for name, value in numbers.items()},
    )


class TestIdempotencyKey:
    def test_a_retry_with_the_same_key_gets_the_first_answer_and_makes_no_second_event(
        self, world: AttributionHarness
    ) -> None:
        world.whatsapp(sc.referral_webhook(CONTACT, REFERRAL_AT, "CLID-I", "wamid.I1"))
        first = world.post_external_response(BOOKING, key="retry-1")
        again = world.post_external_response({"external_event": BOOKING}, key="retry-1")  # same request

        assert first[0] == 201, first
        assert again[:2] == first[:2]
        assert again[2].get("idempotent-replayed") == "true"
        assert "idempotent-replayed" not in first[2]
        assert len(world.external_items()) == 1
        assert len(world.conversion_events()) == 1

    def test_the_same_key_with_another_request_is_422_and_changes_nothing(
        self, world: AttributionHarness
    ) -> None:
        assert world.post_external(BOOKING, key="reused")[0] == 201
        status, answer = world.post_external({**BOOKING, "action": "Cancelled"}, key="reused")

        assert (status, answer["error"], answer["field"]) == (422, "validation_error", "Idempotency-Key")
        assert len(world.external_items()) == 1

    def test_without_a_key_each_call_is_a_new_event(self, world: AttributionHarness) -> None:
        assert [world.post_external(BOOKING)[0] for _ in range(2)] == [201, 201]
        assert len(world.external_items()) == 2

    def test_a_refused_request_claims_nothing_and_a_first_refusal_is_replayed(
        self, world: AttributionHarness
    ) -> None:
        bad = world.post_external({**BOOKING, "revenue": {"amount": True, "currency": "MXN"}}, key="k-1")
        good = world.post_external(BOOKING, key="k-1")
        unknown = {**BOOKING, "previous_external_event_id": "nope"}
        missing = [world.post_external(unknown, key="k-2") for _ in range(2)]

        assert (bad[0], good[0]) == (422, 201)
        assert [status for status, _ in missing] == [404, 404]
        assert missing[0][1] == missing[1][1]

    def test_an_expired_key_can_be_used_again(self, world: AttributionHarness) -> None:
        first = world.post_external(BOOKING, key="old")[1]
        set_claim("old", expires_at=int(time.time()) - 1)
        status, second = world.post_external({**BOOKING, "action": "Booked again"}, key="old")

        assert status == 201
        assert second["external_event_id"] != first["external_event_id"]
        assert int(idempotency_item("old")["expires_at"]["N"]) > time.time() + 23 * 3600

    def test_a_key_whose_first_request_is_running_is_409_and_an_abandoned_one_is_taken_over(
        self, world: AttributionHarness
    ) -> None:
        from wa_conversions.attribution.wiring import repository

        now = int(time.time())
        repository().claim_idempotency_key(
            "external-events",
            "crashed",
            {
                "fingerprint": fingerprint_of(BOOKING),
                "resource_id": "11111111-2222-4333-8444-555555555555",
                "state": "in_progress",
                "claimed_at": now,
                "expires_at": now + 86_400,
            },
            now,
        )
        running = world.post_external(BOOKING, key="crashed")
        set_claim("crashed", claimed_at=now - 120)  # the first request died (a Lambda timeout)
        taken_over = world.post_external(BOOKING, key="crashed")

        assert (running[0], running[1]["field"]) == (409, "Idempotency-Key")
        assert taken_over[0] == 201
        assert taken_over[1]["external_event_id"] == "11111111-2222-4333-8444-555555555555"
        assert len(world.conversion_events()) == 1

    @pytest.mark.parametrize("key", ["", "   ", "x" * 256, "caf\u00e9", "line\nbreak"])
    def test_an_unusable_key_is_400_naming_the_header(self, world: AttributionHarness, key: str) -> None:
        status, answer = world.post_external(BOOKING, key=key)
        assert (status, answer["field"]) == (400, "Idempotency-Key")
        assert world.external_items() == []


def fingerprint_of(body: dict[str, Any]) -> str:
    from wa_conversions.attribution.idempotency import fingerprint
    from wa_conversions.attribution.requests import ExternalEventRequest

    return fingerprint(ExternalEventRequest.from_body(body).model_dump(mode="json"))
