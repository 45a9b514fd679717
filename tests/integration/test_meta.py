"""Meta's order stages, web facts, consent and restricted regions through the real handlers and the
delivery runner against moto (docs/forwarding.md, "Meta"): an order's whole life is one bus event per
stage, each Meta's own event with its own id; a contact's "no" to ads reaches the request; a
restricted-region answer is skipped with its reason, never parked."""

# ruff: noqa: F811 - the fixtures (world, aws) are imported from their modules and named as parameters

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import respx

from tests.integration.test_attribution import (  # noqa: F401 - fixtures among them
    REFERRAL_AT,
    AttributionHarness,
    destination_requests,
    world,
)
from tests.integration.test_delivery import (  # noqa: F401 - fixtures among them
    META_URL,
    SETTINGS,
    Harness,
    Queues,
    aws,
    conversion,
    event_id,
)
from tests.support import attribution as sc
from wa_conversions.config import MetaCapiSettings
from wa_conversions.forwarding.meta_capi import MetaCapiDestination, MetaEvent


def fulfillment(order_id: int, fulfillment_id: int, at: int) -> dict[str, Any]:
    return {"id": fulfillment_id, "order_id": order_id, "status": "success", "created_at": sc.iso(at)}


def tracking(order_id: int, fulfillment_id: int, event_id: int, status: str, at: int) -> dict[str, Any]:
    return {
        "id": event_id,
        "fulfillment_id": fulfillment_id,
        "order_id": order_id,
        "status": status,
        "happened_at": sc.iso(at),
    }


def meta_event(event: dict[str, Any]) -> dict[str, Any]:
    request = destination_requests(event)["meta"]
    assert isinstance(request, MetaEvent), request
    return request.event


class TestOrderStages:
    def test_an_orders_whole_life_is_one_meta_event_per_stage(self, world: AttributionHarness) -> None:
        # Recent: a stage is timed when Shopify triggers its webhook (now), within the click window.
        clicked = int(time.time()) - 2 * 3600
        world.whatsapp(sc.referral_webhook("16505551234", clicked, "CLID-A", "wamid.A1"))
        placed = sc.order(order_id=3001, created_at=clicked + 60, phone="6505551234")
        world.order(placed)  # authorized, not paid yet
        world.order({**placed, "financial_status": "paid"}, "orders/paid")
        world.order(fulfillment(3001, 71, clicked + 3600), "fulfillments/create")
        world.order(fulfillment(3001, 72, clicked + 3700), "fulfillments/create")  # a split shipment
        world.order(tracking(3001, 71, 1, "in_transit", clicked + 7200), "fulfillment_events/create")
        world.order(tracking(3001, 71, 2, "delivered", clicked + 9000), "fulfillment_events/create")
        world.order(tracking(3001, 72, 3, "delivered", clicked + 9100), "fulfillment_events/create")
        world.order(sc.refund(refund_id=41, order_id=3001, created_at=clicked + 1800), "refunds/create")

        events = world.conversion_events()
        sent = {e["detail-type"]: meta_event(e) for e in events}
        assert (
            sorted(e["detail-type"] for e in events)
            == sorted(sent)
            == [
                "conversion.attributed",
                "order.delivered",
                "order.paid",
                "order.shipped",
                "refund.created",
            ]
        )
        order_key = f"shopify:{sc.SHOP}:3001"
        assert {name: (e["event_name"], e["event_id"]) for name, e in sent.items()} == {
            "conversion.attributed": ("OrderCreated", f"{order_key}:order"),
            "order.paid": ("Purchase", f"{order_key}:order_paid"),
            "order.shipped": ("OrderShipped", f"{order_key}:order_shipped"),
            "order.delivered": ("OrderDelivered", f"{order_key}:order_delivered"),
            "refund.created": ("OrderReturned", f"{order_key}:refund:41"),
        }
        assert sent["order.paid"]["custom_data"]["value"] == 409.94
        assert sent["order.shipped"]["custom_data"]["value"] == 409.94
        assert sent["refund.created"]["custom_data"]["value"] == 204.97
        assert {e["user_data"]["ctwa_clid"] for e in sent.values()} == {"CLID-A"}

    def test_an_order_created_paid_is_purchased_once_whichever_webhook_comes_first(
        self, world: AttributionHarness
    ) -> None:
        world.whatsapp(sc.referral_webhook("16505551234", REFERRAL_AT, "CLID-A", "wamid.A1"))
        placed = sc.order(order_id=3002, created_at=REFERRAL_AT + 60, phone="6505551234")
        world.order({**placed, "financial_status": "paid"})
        world.order({**placed, "financial_status": "paid"}, "orders/paid")

        names = sorted(e["detail-type"] for e in world.conversion_events())
        assert names == ["conversion.attributed", "order.paid"]

    def test_the_orders_web_facts_reach_its_events(self, world: AttributionHarness) -> None:
        world.whatsapp(sc.referral_webhook("16505551234", REFERRAL_AT, "CLID-A", "wamid.A1"))
        placed = sc.order(order_id=3003, created_at=REFERRAL_AT + 60, phone="6505551234")
        placed["landing_site"] = "/products/ipod?utm_source=facebook"
        placed["client_details"]["user_agent"] = "Mozilla/5.0"
        placed["note_attributes"].append({"name": "_fbc", "value": "fb.1.1554763741205.AbCd"})
        world.order(placed)
        world.order({**placed, "financial_status": "paid"}, "orders/paid")

        for event in world.conversion_events():
            props = event["detail"]["properties"]
            assert props["customer"] == {
                "firstName": "Bob",
                "lastName": "Norman",
                "city": "Louisville",
                "state": "KY",
                "zip": "40202",
                "country": "US",
            }
            assert (props["landingSite"], props["clientIp"], props["userAgent"]) == (
                "/products/ipod?utm_source=facebook",
                "0.0.0.0",  # noqa: S104 - the fixture order's browser_ip, not a bind
                "Mozilla/5.0",
            )
            assert (props["fbc"], props["fbp"]) == ("fb.1.1554763741205.AbCd", None)

    def test_an_in_transit_update_and_an_unknown_orders_shipment_are_handled(
        self, world: AttributionHarness
    ) -> None:
        world.order(tracking(3999, 71, 1, "in_transit", REFERRAL_AT), "fulfillment_events/create")
        world.order(fulfillment(3999, 71, REFERRAL_AT), "fulfillments/create")

        [shipped] = world.conversion_events()
        assert shipped["detail-type"] == "order.shipped"
        assert shipped["detail"]["properties"]["orderKnown"] is False
        assert destination_requests(shipped)["meta"] == (
            "no ctwa_clid: the conversion is not attributed to a Click-to-WhatsApp ad"
        )


# -- delivery: consent, restricted regions ------------------------------------------------------


RESTRICTED = {
    "error": {
        "message": "Messaging Event Within Messaging Restrictive Region",
        "type": "OAuthException",
        "code": 100,
        "fbtrace_id": "AbCdEf",
    }
}


def meta(consent: dict[str, bool] | None = None, **env: str) -> MetaCapiDestination:
    settings = MetaCapiSettings.model_validate({**SETTINGS, **env})
    client = httpx.Client(base_url=settings.graph_base_url, timeout=1.0)
    known = consent or {}
    return MetaCapiDestination(settings, lambda: client, lambda: "meta-token", consent=known.get)


@respx.mock
def test_a_restricted_region_event_is_skipped_with_its_reason_and_its_batch_mates_delivered(
    aws: Queues,
) -> None:
    orders = [conversion() for _ in range(4)]
    restricted = event_id(orders[1])

    def graph(request: httpx.Request) -> httpx.Response:
        data: list[dict[str, Any]] = json.loads(request.content)["data"]
        if any(e["event_id"] == restricted for e in data):
            return httpx.Response(400, json=RESTRICTED)
        return httpx.Response(200, json={"events_received": len(data), "fbtrace_id": "Tr4ce"})

    respx.post(META_URL).mock(side_effect=graph)
    harness = Harness(aws, meta())
    harness.queue(*(json.dumps(o) for o in orders))

    _, counts = harness.run()

    assert (counts["delivered"], counts["skipped"], counts["failed"]) == (3, 1, [])
    skipped = harness.delivery(orders[1])
    assert skipped["status"] == "skipped"
    assert "region" in skipped["reason"] and "AbCdEf" in skipped["reason"]
    assert harness.parked() == []
    delivered = harness.delivery(orders[0])
    assert (delivered["status"], delivered["response"]["fbtrace_id"]) == ("delivered", "Tr4ce")
    # not retried: the next invocation finds nothing to do
    assert harness.run()[0] == []


@respx.mock
def test_a_contact_who_said_no_to_ads_goes_with_opt_out_and_the_log_says_why(
    aws: Queues,
) -> None:
    route = respx.post(META_URL).mock(
        return_value=httpx.Response(200, json={"events_received": 2, "fbtrace_id": "T"})
    )
    no, yes = conversion(contactKey="16505550001"), conversion(contactKey="16505550002")
    harness = Harness(aws, meta({"16505550001": False, "16505550002": True}, META_LIMITED_DATA_USE="geo"))
    harness.queue(json.dumps(no), json.dumps(yes))

    harness.run()

    sent = {e["event_id"]: e for e in json.loads(route.calls[0].request.content)["data"]}
    assert sent[event_id(no)]["opt_out"] is True
    assert "opt_out" not in sent[event_id(yes)]
    assert {e["data_processing_options_state"] for e in sent.values()} == {0}
    assert "no ads consent" in harness.delivery(no)["reason"]
    assert "reason" not in harness.delivery(yes)


@respx.mock
def test_a_contact_who_said_no_is_skipped_when_so_configured(aws: Queues) -> None:
    route = respx.post(META_URL).mock(return_value=httpx.Response(200, json={"events_received": 1}))
    no = conversion(contactKey="16505550001")
    harness = Harness(aws, meta({"16505550001": False}, META_NO_CONSENT="skip"))
    harness.queue(json.dumps(no))

    harness.run()

    assert not route.called
    record = harness.delivery(no)
    assert record["status"] == "skipped" and "no ads consent" in record["reason"]


@respx.mock
def test_a_shortfall_in_events_received_is_not_recorded_as_delivered(aws: Queues) -> None:
    answer = httpx.Response(200, json={"events_received": 0, "fbtrace_id": "Z"})
    respx.post(META_URL).mock(return_value=answer)
    order = conversion()
    harness = Harness(aws, meta())
    harness.queue(json.dumps(order))

    harness.run()

    record = harness.delivery(order)
    assert record["status"] == "failed"
    assert "0 of the 1" in record["reason"] and "Z" in record["reason"]


# -- ConversionRules: the text is matched where it is read, and never leaves ----------------------


RULES = [{"name": "wants-to-buy", "event": "QualifiedLead", "message": "quiero comprar"}]


def test_capture_publishes_which_rules_a_text_matched_never_the_text(
    world: AttributionHarness, monkeypatch: Any, capsys: Any
) -> None:
    import boto3

    from tests.support import webhooks as wh
    from tests.support.lambdas import sqs_event
    from wa_conversions import reset
    from wa_conversions.deadletter import DeadLetterQueue
    from wa_conversions.forwarding.rules import parse_rules
    from wa_conversions.forwarding.rules_runner import RulesRunner
    from wa_conversions.store.capture import CaptureRepository

    monkeypatch.setenv("CONVERSION_RULES", json.dumps(RULES))
    reset()
    now = int(time.time())
    world.whatsapp(sc.referral_webhook("16505551234", now - 3600, "CLID-R", "wamid.R1"))
    text = wh.text_message("wamid.R2", "16505551234", now - 60, body="Hola, QUIERO COMPRÁR ya")
    world.whatsapp(wh.encode(wh.webhook({"contacts": [wh.contact("16505551234")], "messages": [text]})))

    events = world.capture.bus_events()
    [received] = [e for e in events if e["detail"]["properties"].get("messageId") == "wamid.R2"]
    assert received["detail"]["properties"]["rulesMatched"] == ["wants-to-buy"]
    assert "COMPR" not in json.dumps(events) and "COMPR" not in capsys.readouterr().out

    sqs = boto3.client("sqs")
    meta_queue = sqs.create_queue(QueueName="meta")["QueueUrl"]
    runner = RulesRunner(
        rules=parse_rules(json.dumps(RULES)),
        capture=CaptureRepository(boto3.client("dynamodb"), "wa-conversions-table"),
        sqs=sqs,
        meta_queue_url=meta_queue,
        dead_letters=DeadLetterQueue(sqs, world.orders_dlq_url, "conversion_rules"),
    )
    twice = sqs_event([json.dumps(received), json.dumps(received)])
    assert runner.handle(twice) == {"batchItemFailures": []}
    queued = sqs.receive_message(QueueUrl=meta_queue, MaxNumberOfMessages=10)["Messages"]
    ids = {json.loads(m["Body"])["detail"]["properties"]["eventId"] for m in queued}
    assert ids == {"rule:wants-to-buy:16505551234:CLID-R"}  # one event id: Meta gets it once

    assert runner.handle(sqs_event(["not json"])) == {"batchItemFailures": []}
    parked = sqs.receive_message(QueueUrl=world.orders_dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert "conversion_rules" in parked[0]["MessageAttributes"]["reason"]["StringValue"]


@respx.mock
def test_the_batchs_consent_is_read_in_one_call_per_hundred_contacts(aws: Queues) -> None:
    import boto3

    from wa_conversions.store.consent import ContactConsent

    dynamodb = boto3.client("dynamodb")
    contacts = [f"1650555{i:04d}" for i in range(120)]
    for key in contacts:
        dynamodb.put_item(
            TableName="wa-conversions-table",
            # as capture stores a contact: with its TTL (README, "Retention")
            Item={"pk": {"S": f"CONTACT#{key}"}, "sk": {"S": "PROFILE"}, "expires_at": {"N": "4102444800"}},
        )
    consent = ContactConsent(dynamodb, "wa-conversions-table")
    assert consent.set(contacts[7], False, 1) and consent.set(contacts[110], True, 1)
    assert not consent.set("19995550100", False, 1)  # no such contact

    class NoSingleReads:
        """The table, but a GetItem per contact fails the test."""

        exceptions = dynamodb.exceptions

        def batch_get_item(self, **kwargs: Any) -> Any:
            return dynamodb.batch_get_item(**kwargs)

        def get_item(self, **kwargs: Any) -> Any:
            raise AssertionError("one GetItem per contact")

    batched = ContactConsent(NoSingleReads(), "wa-conversions-table")  # type: ignore[arg-type]
    route = respx.post(META_URL).mock(
        side_effect=lambda request: httpx.Response(
            200, json={"events_received": len(json.loads(request.content)["data"])}
        )
    )
    settings = MetaCapiSettings.model_validate(SETTINGS)
    client = httpx.Client(base_url=settings.graph_base_url, timeout=1.0)
    destination = MetaCapiDestination(
        settings, lambda: client, lambda: "t", consent=batched.get, prefetch=batched.prefetch
    )
    harness = Harness(aws, destination)
    orders = [conversion(contactKey=key) for key in contacts]
    harness.queue(*(json.dumps(o) for o in orders))

    while harness.run()[0]:
        pass

    sent = {e["event_id"]: e for call in route.calls for e in json.loads(call.request.content)["data"]}
    assert len(sent) == 120
    assert [k for k, o in zip(contacts, orders, strict=True) if sent[event_id(o)].get("opt_out")] == [
        contacts[7]
    ]
