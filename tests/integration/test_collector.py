"""The collector forwarder against moto (delivery log, queues) with respx playing the collector: a
queue's events go out in one batch with the Write Key, once each across redeliveries; a 500 then 200
delivers once; a refused or oversized batch is split so only the bad item fails; nothing that came in
through POST /v1/capture is sent back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
import respx
from moto import mock_aws

from tests.integration.conftest import assert_every_record_expires
from tests.integration.test_delivery import Harness, Queues
from tests.support.cfn import create_table, load_template
from tests.support.lambdas import FakeContext, load_handler, sqs_event
from wa_conversions import reset
from wa_conversions.config import CollectorSettings
from wa_conversions.forwarding import collector as collector_module
from wa_conversions.forwarding.collector import CollectorDestination

TABLE = "wa-conversions-table"
URL = "https://collector.test/v1/capture"
SETTINGS = {"TABLE_NAME": TABLE, "DELIVERY_QUEUE_URL": "-", "DELIVERY_DLQ_URL": "-", "COLLECTOR_URL": URL}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Queues]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "WaConversionsTest",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        template = load_template()
        create_table(boto3.client("dynamodb"), template, "Table", TABLE)
        sqs = boto3.client("sqs")
        yield Queues(
            queue_url=sqs.create_queue(QueueName="collector")["QueueUrl"],
            dlq_url=sqs.create_queue(QueueName="collector-dlq")["QueueUrl"],
        )
        assert_every_record_expires(boto3.client("dynamodb"), template, {"Table": TABLE})


def lifecycle(event: str, second: int, provider: str = "meta", **properties: Any) -> dict[str, Any]:
    message = f"wamid.{uuid.uuid4().hex}"
    return {
        "version": "0",
        "detail-type": event,
        "source": "wa-conversions",
        "detail": {
            "version": "1",
            "messageId": str(uuid.uuid4()),
            "type": "track",
            "event": event,
            "userId": "+16505551234",
            "timestamp": f"2026-01-20T06:30:{second:02d}.000Z",
            "context": {"channel": "whatsapp", "provider": provider},
            "properties": {
                "contactKey": "16505551234",
                "messageId": message,
                "chatId": "16505551234",
                "direction": "inbound",
                "contentType": "text",
                "hasMedia": False,
                **properties,
            },
        },
    }


def destination() -> CollectorDestination:
    settings = CollectorSettings.model_validate(SETTINGS)
    client = httpx.Client(timeout=1.0)
    return CollectorDestination(settings, lambda: client, lambda: "write-key")


def items(route: respx.Route) -> list[list[dict[str, Any]]]:
    return [json.loads(call.request.content)["batch"] for call in route.calls]


def status(harness: Harness, message: dict[str, Any]) -> dict[str, Any]:
    return harness.log.get_for("collector", message["detail"]["messageId"]) or {}


@respx.mock
def test_the_queues_events_go_in_one_batch_in_order_once_each_across_redeliveries(aws: Queues) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json={"success": True}))
    events = [lifecycle("message.received", s) for s in (3, 1, 2)]
    harness = Harness(aws, destination())
    harness.queue(*(json.dumps(e) for e in events))

    _, counts = harness.run()
    harness.queue(*(json.dumps(e) for e in events))  # SQS (or an operator's replay) hands them over again
    _, again = harness.run()

    assert counts["delivered"] == 3 and again == {"failed": [], "already_delivered": 3}
    [batch] = items(route)
    assert [i["timestamp"][-7:-5] for i in batch] == ["01", "02", "03"]  # in the order they happened
    assert {i["messageId"] for i in batch} == {e["detail"]["messageId"] for e in events}
    assert route.calls[0].request.headers["X-Write-Key"] == "write-key"


@respx.mock
def test_a_500_then_200_delivers_once(aws: Queues) -> None:
    route = respx.post(URL).mock(side_effect=[httpx.Response(500), httpx.Response(200, json={})])
    event = lifecycle("message.received", 1)
    harness = Harness(aws, destination())
    harness.queue(json.dumps(event))

    records, first = harness.run()
    assert harness.receive() == []  # the retry waits by the message's visibility
    _backoff_over(harness, records)
    records, second = harness.run()
    harness.queue(json.dumps(event))  # delivered at least once by SQS: here, twice
    _, third = harness.run()

    assert first["retrying"] == 1 and second["delivered"] == 1 and third["already_delivered"] == 1
    assert route.call_count == 2
    assert status(harness, event)["status"] == "delivered" and status(harness, event)["attempts"] == 2


@respx.mock
def test_an_unknown_outcome_is_sent_again_because_the_collector_dedupes_on_message_id(aws: Queues) -> None:
    route = respx.post(URL).mock(side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json={})])
    event = lifecycle("message.received", 1)
    harness = Harness(aws, destination())
    harness.queue(json.dumps(event))

    records, first = harness.run()
    _backoff_over(harness, records)
    _, second = harness.run()

    assert first["retrying"] == 1 and second["delivered"] == 1
    assert [i[0]["messageId"] for i in items(route)] == [event["detail"]["messageId"]] * 2


@respx.mock
def test_a_refused_batch_is_split_until_the_bad_item_stands_alone(aws: Queues) -> None:
    events = [lifecycle("message.received", s) for s in range(4)]
    bad = events[2]["detail"]["messageId"]

    def collector(request: httpx.Request) -> httpx.Response:
        batch = json.loads(request.content)["batch"]
        if any(i["messageId"] == bad for i in batch):
            return httpx.Response(400, json={"error": "bad_request", "message": "contentType: required"})
        return httpx.Response(200, json={"accepted": len(batch)})

    route = respx.post(URL).mock(side_effect=collector)
    harness = Harness(aws, destination())
    harness.queue(*(json.dumps(e) for e in events))

    _, counts = harness.run()

    assert len(items(route)[0]) == 4
    assert counts["delivered"] == 3 and counts["failed"] == 1
    assert [status(harness, e)["status"] for e in events] == ["delivered", "delivered", "failed", "delivered"]
    [parked] = harness.parked()
    assert json.loads(parked["Body"])["detail"]["messageId"] == bad


@respx.mock
def test_a_2xx_that_names_refused_items_is_split_like_a_refused_batch(aws: Queues) -> None:
    events = [lifecycle("message.received", s) for s in range(2)]
    bad = events[1]["detail"]["messageId"]

    def collector(request: httpx.Request) -> httpx.Response:
        batch = json.loads(request.content)["batch"]
        errors = [
            {"index": n, "error": "validation_error"} for n, i in enumerate(batch) if i["messageId"] == bad
        ]
        return httpx.Response(200, json={"accepted": len(batch) - len(errors), "errors": errors})

    respx.post(URL).mock(side_effect=collector)
    harness = Harness(aws, destination())
    harness.queue(*(json.dumps(e) for e in events))

    _, counts = harness.run()

    assert counts["delivered"] == 1 and counts["failed"] == 1
    assert status(harness, events[1])["status"] == "failed"


@respx.mock
def test_a_batch_over_the_size_limit_is_split_before_it_is_sent(
    aws: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collector_module, "MAX_BATCH_BYTES", 1200)
    route = respx.post(URL).mock(return_value=httpx.Response(200, json={}))
    events = [lifecycle("message.received", s) for s in range(4)]
    harness = Harness(aws, destination())
    harness.queue(*(json.dumps(e) for e in events))

    _, counts = harness.run()

    assert counts["delivered"] == 4
    assert all(len(call.request.content) <= 1200 for call in route.calls)
    assert sum(len(batch) for batch in items(route)) == 4


@respx.mock
def test_an_event_that_came_in_through_v1_capture_is_not_sent_back(aws: Queues) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json={}))
    harness = Harness(aws, destination())
    echo = lifecycle("message.received", 1, provider="capture")
    harness.queue(json.dumps(echo))

    _, counts = harness.run()

    assert counts == {"failed": [], "skipped": 1} and route.call_count == 0
    assert status(harness, echo)["status"] == "skipped"


@respx.mock
def test_the_handler_reads_the_write_key_from_ssm_and_sends_it_as_segments_basic_user(
    aws: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = SETTINGS | {
        "DELIVERY_QUEUE_URL": aws.queue_url,
        "DELIVERY_DLQ_URL": aws.dlq_url,
        "COLLECTOR_AUTH": "basic",
        "PARAMETER_PREFIX": "/wa-conversions",
        "POWERTOOLS_SERVICE_NAME": "collector_forwarder",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    boto3.client("ssm").put_parameter(
        Name="/wa-conversions/collector-write-key", Value="wk-from-ssm", Type="SecureString"
    )
    reset()
    route = respx.post(URL).mock(return_value=httpx.Response(200, json={}))
    try:
        handler = load_handler("collector_forwarder")
        result = handler.lambda_handler(
            sqs_event([json.dumps(lifecycle("message.received", 1))]), FakeContext()
        )
    finally:
        reset()

    assert result == {"batchItemFailures": []}
    assert route.calls[0].request.headers["Authorization"] == "Basic d2stZnJvbS1zc206"  # "wk-from-ssm:"


def _backoff_over(harness: Harness, records: list[dict[str, Any]]) -> None:
    """Ends the records' backoff at once, as time passing would."""
    for record in records:
        harness.sqs.change_message_visibility(
            QueueUrl=harness.queues.queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
        )
