"""One poison-message policy for every kind of SQS consumer (wa_conversions.batch), through the real
handlers against moto: a record that can never be processed goes to the consumer's DLQ at once with its
reason, and the good records of the same batch are processed; nothing is reported for SQS to retry."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from typing import Any

import boto3
import httpx
import pytest
import respx

from devstack.sample_events import proxy_event
from tests.integration.conftest import CaptureHarness
from tests.integration.test_attribution import REFERRAL_AT, AttributionHarness, only
from tests.integration.test_attribution import world as world  # the fixture
from tests.integration.test_delivery import WAX_URL, Harness, Queues, conversion, event_id, wax_destination
from tests.integration.test_delivery import aws as aws  # the fixture
from tests.support import analytics_history as history
from tests.support import attribution as sc
from tests.support import webhooks as wh
from tests.support.lambdas import sqs_event
from wa_conversions import reset


def parked(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        found += batch
    return found


def reasons(messages: list[dict[str, Any]]) -> list[str]:
    return sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in messages)


def test_the_whatsapp_processor_parks_a_body_that_is_no_webhook_and_applies_the_rest(
    harness: CaptureHarness,
) -> None:
    good = wh.webhook(
        {
            "contacts": [wh.contact("4915112345678")],
            "messages": [wh.text_message("wamid.POISON1", "4915112345678", 1750000000)],
        }
    )

    response = harness.invoke("whatsapp_processor", sqs_event([wh.encode(good).decode(), "not json"]))

    assert response == {"batchItemFailures": []}
    received = [e for e in harness.bus_events() if e["detail-type"] == "message.received"]
    assert [e["detail"]["properties"]["messageId"] for e in received] == ["wamid.POISON1"]
    [message] = parked(harness.dlq_url)
    assert message["Body"] == "not json"
    assert message["MessageAttributes"]["reason"]["StringValue"].startswith("Not a valid")
    assert message["MessageAttributes"]["source"]["StringValue"] == "whatsapp_processor"


def test_the_orders_processor_parks_what_is_no_shopify_delivery_and_attributes_the_rest(
    world: AttributionHarness,
) -> None:
    world.whatsapp(sc.referral_webhook("16505551234", REFERRAL_AT, "CLID-P", "wamid.P1"))
    world.capture.bus_events()
    order = sc.order(order_id=4001, created_at=REFERRAL_AT + sc.DAY, phone="(650) 555-1234")
    assert world.post_shopify(order, "orders/create")["statusCode"] == 200
    sqs = boto3.client("sqs")
    [queued] = sqs.receive_message(QueueUrl=world.orders_url, MaxNumberOfMessages=10)["Messages"]

    response = world.capture.invoke(
        "orders_processor", sqs_event(['{"shop": "x.myshopify.com"}', queued["Body"]])
    )

    assert response == {"batchItemFailures": []}
    event = only(world.conversion_events(), "conversion.attributed")
    assert event["detail"]["properties"]["orderId"] == "4001"
    assert [r.split(":")[0] for r in reasons(parked(world.orders_dlq_url))] == [
        "Not a queued Shopify delivery"
    ]


def test_the_analytics_aggregator_parks_what_is_no_bus_event_and_counts_the_rest(
    harness: CaptureHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    dlq_url = boto3.client("sqs").create_queue(QueueName="analytics-dlq")["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq_url)
    reset()  # settings are read once per execution environment
    good = json.dumps({"detail": history.HISTORY[0].document})

    response = harness.invoke("analytics_aggregator", sqs_event(["{oops", good, '{"detail": {}}']))

    assert response == {"batchItemFailures": []}
    metrics = harness.invoke(
        "metrics_api",
        proxy_event(
            "GET",
            "/metrics",
            headers={"X-Api-Key": harness.env["API_KEY"]},
            query={"from": history.D1, "to": history.D2},
        ),
    )
    assert json.loads(metrics["body"])["new_contacts"][history.D1] == 1
    assert reasons(parked(dlq_url)) == [
        "Not a bus event: JSONDecodeError",
        "Not a bus event: ValidationError",
    ]


def test_the_erasure_function_parks_what_is_no_job_and_runs_the_rest(world: AttributionHarness) -> None:
    from tests.integration.conftest import ErasureContext
    from tests.integration.test_privacy import a_persons_history, compliance

    a_persons_history(world)
    assert world.post_shopify(compliance("shop/redact"), "shop/redact")["statusCode"] == 200
    sqs = boto3.client("sqs")
    [job] = sqs.receive_message(QueueUrl=world.capture.erasure_url, MaxNumberOfMessages=10)["Messages"]

    # one job per invocation in the template (BatchSize 1); the policy is the same for any batch
    response = world.capture.invoke(
        "erasure", sqs_event(['{"erasure_id": "no-such-erasure"}', job["Body"]]), ErasureContext()
    )

    assert response == {"batchItemFailures": []}
    assert world.get_order(9201)[0] == 404  # the shop's orders are gone
    assert reasons(parked(world.orders_dlq_url)) == ["No erasure 'no-such-erasure' was asked for"]


RULES = [{"name": "won", "event": "QualifiedLead", "capture": "chat.resolved", "outcome": "sale"}]


def test_the_conversion_rules_park_what_is_no_bus_event_and_queue_the_rest(
    harness: CaptureHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = boto3.client("sqs")
    meta_queue = sqs.create_queue(QueueName="meta")["QueueUrl"]
    monkeypatch.setenv("META_QUEUE_URL", meta_queue)
    monkeypatch.setenv("CONVERSION_RULES", json.dumps(RULES))
    reset()
    resolved = {
        "detail": {
            "event": "chat.resolved",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60)),
            "properties": {"contactKey": "5215512345678", "resolutionType": "sale"},
        }
    }

    response = harness.invoke("conversion_rules", sqs_event(["not json", json.dumps(resolved), "[]"]))

    assert response == {"batchItemFailures": []}
    [queued] = sqs.receive_message(QueueUrl=meta_queue, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(queued["Body"])["detail"]["properties"]["ruleName"] == "won"
    found = reasons(parked(harness.dlq_url))
    assert len(found) == 2 and all(r.startswith("conversion_rules: ") for r in found)


@respx.mock
def test_a_forwarder_parks_what_is_no_conversion_and_delivers_the_rest(aws: Queues) -> None:
    from wa_conversions import batch

    route = respx.post(WAX_URL).mock(return_value=httpx.Response(200, json={"ok": True}))
    harness = Harness(aws, wax_destination())
    good = conversion()
    harness.queue("not json", json.dumps(good), json.dumps({"detail": {"event": str(uuid.uuid4())}}))
    output = io.StringIO()
    stream = logging.StreamHandler(output)
    stream.setFormatter(batch.logger.registered_formatter)
    logging.getLogger(batch.logger.service).addHandler(stream)
    try:
        records, counts = harness.run()
    finally:
        logging.getLogger(batch.logger.service).removeHandler(stream)

    assert route.call_count == 1 and event_id(good) in route.calls[0].request.content.decode()
    assert counts["failed"] == [] and counts["delivered"] == 1
    found = harness.parked()
    assert len(found) == 2
    assert all(m["MessageAttributes"]["reason"]["StringValue"].startswith("wax: ") for m in found)
    assert "wax: the message is not JSON" in reasons(found)
    # one line for each parked record, by its message id, and never its body
    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    bad_ids = {r["messageId"] for r in records if r["body"] != json.dumps(good)}
    assert sorted(line["message_id"] for line in lines) == sorted(bad_ids)
    assert {line["message"] for line in lines} == {"Record parked in the DLQ"}
    assert "not json" not in output.getvalue()
