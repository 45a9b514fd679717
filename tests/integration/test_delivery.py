"""The delivery runner against moto (DynamoDB's delivery log, SQS) with respx playing the destinations:
a request that may have arrived is left `ambiguous` and never resent on its own, each request's outcome
is recorded before the next one starts, a function about to run out of time hands the rest back, and
one event that cannot be sent never holds its batch-mates back."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
import respx
from moto import mock_aws

from devstack.pollers import sqs_record
from tests.integration.conftest import assert_every_record_expires
from tests.support.cfn import create_table, load_template
from wa_conversions.config import CmConversionsSettings, MetaCapiSettings, WaxSettings
from wa_conversions.deadletter import DeadLetterQueue
from wa_conversions.delivery.log import DeliveryFacts, DeliveryLog, delivery_id_for
from wa_conversions.delivery.retry import RetryPolicy
from wa_conversions.delivery.runner import DeliveryRunner, Destination
from wa_conversions.forwarding.api import ConversionService
from wa_conversions.forwarding.cm import CmConversionsDestination
from wa_conversions.forwarding.meta_capi import MetaCapiDestination
from wa_conversions.forwarding.wax import WaxDestination
from wa_conversions.store.capture import CaptureRepository

TABLE = "wa-conversions-table"
CM_URL = "https://cm.test/v1.0/event"
META_URL = "https://graph.test/v26.0/42/events"
WAX_URL = "https://wax.test/v1/metric-events"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:deliveries"
SETTINGS = {
    "TABLE_NAME": TABLE,
    "DELIVERY_QUEUE_URL": "set per test",
    "DELIVERY_DLQ_URL": "set per test",
    "CM_EVENT_URL": CM_URL,
    "CM_BUSINESS_NUMBER": "31612345678",
    "META_DATASET_ID": "42",
    "META_GRAPH_BASE_URL": "https://graph.test",
    "WAX_BASE_URL": "https://wax.test",
}


@dataclass
class Queues:
    queue_url: str
    dlq_url: str


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
            queue_url=sqs.create_queue(QueueName="deliveries")["QueueUrl"],
            dlq_url=sqs.create_queue(QueueName="deliveries-dlq")["QueueUrl"],
        )
        assert_every_record_expires(boto3.client("dynamodb"), template, {"Table": TABLE})


def conversion(**overrides: Any) -> dict[str, Any]:
    conversion_id = f"shopify:shop.myshopify.com:{uuid.uuid4().int % 10**12}"
    now = int(time.time())
    properties: dict[str, Any] = {
        "conversionId": conversion_id,
        "eventId": f"{conversion_id}:order",
        "kind": "order",
        "orderId": conversion_id.rsplit(":", 1)[1],
        "value": 59.9,
        "currency": "EUR",
        "phone": "16505551234",
        "ctwaClid": "Aff-n8ZTODiE79d22KtAwQ",
        "clickedAt": now - 3600,
        "attribution": {"status": "attributed"},
    }
    properties.update(overrides)
    return {
        "version": "0",
        "detail-type": "conversion.attributed",
        "source": "wa-conversions",
        "detail": {
            "event": "conversion.attributed",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
            "properties": properties,
        },
    }


def event_id(message: dict[str, Any]) -> str:
    return str(message["detail"]["properties"]["eventId"])


class Harness:
    def __init__(self, queues: Queues, destination: Destination, log: DeliveryLog | None = None) -> None:
        self.queues = queues
        self.sqs = boto3.client("sqs")
        self.log = log or DeliveryLog(boto3.client("dynamodb"), TABLE)
        self.destination = destination
        self.runner = DeliveryRunner(
            destination,
            self.log,
            self.sqs,
            queues.queue_url,
            DeadLetterQueue(self.sqs, queues.dlq_url, f"{destination.name}_forwarder"),
            RetryPolicy(base_seconds=1, max_attempts=16),
        )

    def queue(self, *bodies: str) -> None:
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.queues.queue_url, MessageBody=body)

    def receive(self) -> list[dict[str, Any]]:
        """Every visible message, as the records Lambda's event source mapping would hand over."""
        records: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queues.queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return records
            records += [sqs_record(m, QUEUE_ARN, "us-east-1") for m in messages]

    def run(self, remaining: Callable[[], int] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One invocation on what is visible now; deletes what it did not report failed, as Lambda does."""
        records = self.receive()
        result = self.runner.process(records, remaining) if remaining else self.runner.process(records)
        for record in records:
            if record["messageId"] not in result.failed:
                self.sqs.delete_message(QueueUrl=self.queues.queue_url, ReceiptHandle=record["receiptHandle"])
        return records, {"failed": result.failed, **result.counts}

    def delivery(self, message: dict[str, Any]) -> dict[str, Any]:
        return self.log.get_for(self.destination.name, event_id(message)) or {}

    def parked(self) -> list[dict[str, Any]]:
        return self.sqs.receive_message(
            QueueUrl=self.queues.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])


def cm_destination() -> CmConversionsDestination:
    settings = CmConversionsSettings.model_validate(SETTINGS)
    return CmConversionsDestination(settings, lambda: httpx.Client(timeout=1.0), lambda: "cm-token")


def wax_destination() -> WaxDestination:
    settings = WaxSettings.model_validate(SETTINGS)
    client = httpx.Client(base_url=settings.base_url, timeout=1.0)
    return WaxDestination(settings, lambda: client, lambda: "wax-token")


def meta_destination() -> MetaCapiDestination:
    settings = MetaCapiSettings.model_validate(SETTINGS)
    client = httpx.Client(base_url=settings.graph_base_url, timeout=1.0)
    return MetaCapiDestination(settings, lambda: client, lambda: "meta-token")


def service(harness: Harness) -> ConversionService:
    dynamodb = boto3.client("dynamodb")
    return ConversionService(
        CaptureRepository(dynamodb, TABLE), harness.log, harness.sqs, {"cm": harness.queues.queue_url}
    )


# -- defect 7: sent, outcome unknown ------------------------------------------------------------


@respx.mock
def test_a_read_timeout_at_cm_is_ambiguous_and_never_resent_on_its_own(aws: Queues) -> None:
    route = respx.post(CM_URL).mock(side_effect=httpx.ReadTimeout("timed out"))
    harness = Harness(aws, cm_destination())
    order = conversion()
    harness.queue(json.dumps(order))

    _, counts = harness.run()

    assert counts == {"failed": [], "ambiguous": 1}  # settled: not handed back for a retry
    delivery = harness.delivery(order)
    assert delivery["status"] == "ambiguous"
    assert "ReadTimeout" in delivery["reason"] and "confirm" in delivery["reason"]
    assert harness.parked() == []  # not a permanent error: the log keeps it for the operator
    assert [d["delivery_id"] for d in harness.log.list(status="ambiguous")] == [delivery["delivery_id"]]

    # SQS (or the bus) hands the same conversion over again: nothing more reaches CM.com.
    harness.queue(json.dumps(order))
    _, again = harness.run()
    assert again == {"failed": [], "already_ambiguous": 1}
    assert route.call_count == 1


@respx.mock
def test_a_refused_connection_is_retried_because_nothing_was_sent(aws: Queues) -> None:
    respx.post(CM_URL).mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(200)])
    harness = Harness(aws, cm_destination())
    order = conversion()
    harness.queue(json.dumps(order))

    records, counts = harness.run()
    assert counts["failed"] == [records[0]["messageId"]]
    assert harness.delivery(order)["status"] == "pending"

    harness.sqs.change_message_visibility(
        QueueUrl=aws.queue_url, ReceiptHandle=records[0]["receiptHandle"], VisibilityTimeout=0
    )
    harness.run()
    assert harness.delivery(order)["status"] == "delivered"


@respx.mock
def test_wax_dedupes_so_an_unknown_outcome_there_is_sent_again(aws: Queues) -> None:
    route = respx.post(WAX_URL).mock(
        side_effect=[httpx.ReadTimeout("timed out"), httpx.Response(409, json={"error": "conflict"})]
    )
    harness = Harness(aws, wax_destination())
    order = conversion()
    harness.queue(json.dumps(order))

    records, counts = harness.run()
    assert counts["failed"] == [records[0]["messageId"]] and counts["retrying"] == 1
    harness.sqs.change_message_visibility(
        QueueUrl=aws.queue_url, ReceiptHandle=records[0]["receiptHandle"], VisibilityTimeout=0
    )
    harness.run()

    assert route.call_count == 2
    assert harness.delivery(order)["status"] == "delivered"  # 409: Wax had it from the first try


@respx.mock
def test_the_operator_retries_one_ambiguous_delivery_and_confirms_another(aws: Queues) -> None:
    resent, seen = conversion(), conversion()
    route = respx.post(CM_URL).mock(
        side_effect=[httpx.ReadTimeout("timed out"), httpx.ReadTimeout("timed out"), httpx.Response(200)]
    )
    harness = Harness(aws, cm_destination())
    harness.queue(json.dumps(resent), json.dumps(seen))
    harness.run()
    assert {harness.delivery(resent)["status"], harness.delivery(seen)["status"]} == {"ambiguous"}
    operator = service(harness)

    retried = operator.retry(harness.delivery(resent)["delivery_id"])
    confirmed = operator.confirm(harness.delivery(seen)["delivery_id"])
    harness.run()

    assert (retried["status"], retried["previousStatus"]) == ("requeued", "ambiguous")
    assert route.call_count == 3  # the retried one went out once more; the confirmed one did not
    assert harness.delivery(resent)["status"] == "delivered"
    assert confirmed["delivery"]["status"] == "delivered"
    assert confirmed["delivery"]["confirmedByOperator"] is True
    # Confirming again changes nothing and says so.
    assert operator.confirm(harness.delivery(seen)["delivery_id"])["alreadyDelivered"] is True


@respx.mock
def test_a_claim_left_by_a_crash_is_ambiguous_at_cm_and_resent_at_wax(aws: Queues) -> None:
    """A function that stopped between claiming and recording (a timeout, a crash) may have sent."""
    cm_route = respx.post(CM_URL).mock(return_value=httpx.Response(200))
    wax_route = respx.post(WAX_URL).mock(return_value=httpx.Response(201, json={"id": "1"}))
    order = conversion()
    # the claims a crashed invocation took ten minutes ago, its lease long run out
    crashed = DeliveryLog(boto3.client("dynamodb"), TABLE, clock=lambda: time.time() - 600)
    for name in ("cm", "wax"):
        facts = DeliveryFacts(destination=name, event_id=event_id(order))
        crashed.claim(facts, message=json.dumps(order), queue=name, lease_seconds=120)

    cm = Harness(aws, cm_destination())
    assert cm.delivery(order)["status"] == "pending"
    cm.queue(json.dumps(order))
    _, counts = cm.run()
    assert counts == {"failed": [], "ambiguous": 1}
    assert not cm_route.called
    assert cm.delivery(order)["status"] == "ambiguous"
    assert "stopped after claiming" in cm.delivery(order)["reason"]

    wax = Harness(aws, wax_destination())
    wax.queue(json.dumps(order))
    wax.run()
    assert wax_route.call_count == 1
    assert wax.delivery(order)["status"] == "delivered"


# -- defect 9: running out of time mid-batch ----------------------------------------------------


@respx.mock
def test_each_success_is_recorded_before_the_next_request_starts(aws: Queues) -> None:
    harness = Harness(aws, cm_destination())
    orders = [conversion(ctwaClid=f"clid-{i}") for i in range(4)]
    seen_before: list[list[str]] = []

    def cm(request: httpx.Request) -> httpx.Response:
        # What an invocation killed right now would leave recorded: every earlier one, delivered.
        seen_before.append([harness.delivery(o).get("status", "-") for o in orders])
        return httpx.Response(200)

    respx.post(CM_URL).mock(side_effect=cm)
    harness.queue(*(json.dumps(o) for o in orders))
    records, _ = harness.run()

    sent_order = [json.loads(r["body"])["detail"]["properties"]["ctwaClid"] for r in records]
    index = {f"clid-{i}": i for i in range(4)}
    for position, statuses in enumerate(seen_before):
        earlier = {index[clid] for clid in sent_order[:position]}
        assert all(statuses[i] == "delivered" for i in earlier), (position, statuses)
    assert [harness.delivery(o)["status"] for o in orders] == ["delivered"] * 4


@respx.mock
def test_a_function_short_of_time_starts_no_request_and_hands_the_rest_back(aws: Queues) -> None:
    clock = {"remaining_ms": 30_000}

    def cm(request: httpx.Request) -> httpx.Response:
        clock["remaining_ms"] -= 9_000  # a slow destination: each answer takes 9 s
        return httpx.Response(200)

    route = respx.post(CM_URL).mock(side_effect=cm)
    harness = Harness(aws, cm_destination())
    orders = [conversion(ctwaClid=f"clid-{i}") for i in range(6)]
    harness.queue(*(json.dumps(o) for o in orders))

    records, counts = harness.run(lambda: clock["remaining_ms"])

    # 30 s left, then 21 s: both above the reserve (the longest request plus the records); at 12 s
    # Lambda's timeout could strike mid-request, so nothing more is started.
    assert route.call_count == 2
    assert counts["delivered"] == 2 and counts["deferred"] == 4 and len(counts["failed"]) == 4
    handed_back = [json.loads(r["body"]) for r in records if r["messageId"] in counts["failed"]]
    # Not attempted, so not counted: no claim, no attempt in the log.
    assert all(harness.delivery(o) == {} for o in handed_back)

    # Back on the queue at once, for the next invocation, which delivers them.
    again, rest = harness.run()
    assert len(again) == 4 and rest["delivered"] == 4
    assert all(harness.delivery(o)["attempts"] == 1 for o in orders)
    assert route.call_count == 6


# -- defect 10 (delivery side): one bad event never delays its batch-mates ----------------------


@respx.mock
def test_an_event_meta_could_not_be_sent_is_parked_and_its_batch_mates_go_at_once(aws: Queues) -> None:
    route = respx.post(META_URL).mock(return_value=httpx.Response(200, json={"events_received": 3}))
    harness = Harness(aws, meta_destination())
    good = [conversion() for _ in range(3)]
    bad = conversion()
    bodies = [json.dumps(m) for m in good]
    # what POST /conversions queued for "value": 1e400 before values were bounded at the API
    bodies.insert(1, json.dumps(bad).replace('"value": 59.9', '"value": 1e400'))
    harness.queue(*bodies)

    _, counts = harness.run()

    assert route.call_count == 1
    sent = json.loads(route.calls[0].request.content)["data"]
    assert sorted(e["event_id"] for e in sent) == sorted(event_id(m) for m in good)
    assert counts == {"failed": [], "parked": 1, "delivered": 3}
    [parked] = harness.parked()
    assert event_id(bad) in parked["Body"]
    assert "finite number" in parked["MessageAttributes"]["reason"]["StringValue"]


@respx.mock
def test_a_rejected_meta_batch_is_split_until_the_bad_event_stands_alone(aws: Queues) -> None:
    orders = [conversion() for _ in range(4)]
    bad = event_id(orders[2])

    def meta(request: httpx.Request) -> httpx.Response:
        data: list[dict[str, Any]] = json.loads(request.content)["data"]
        if any(e["event_id"] == bad for e in data):
            return httpx.Response(400, json={"error": {"code": 100, "error_subcode": 2804066}})
        return httpx.Response(200, json={"events_received": len(data)})

    route = respx.post(META_URL).mock(side_effect=meta)
    harness = Harness(aws, meta_destination())
    harness.queue(*(json.dumps(o) for o in orders))

    _, counts = harness.run()

    assert len(json.loads(route.calls[0].request.content)["data"]) == 4  # one request first
    assert counts["delivered"] == 3 and counts["failed"] == 1
    assert harness.delivery(orders[2])["status"] == "failed"
    assert [harness.delivery(o)["status"] for i, o in enumerate(orders) if i != 2] == ["delivered"] * 3
    assert all(harness.delivery(o)["attempts"] == 1 for o in orders)
    assert delivery_id_for("meta", bad) in {d["delivery_id"] for d in harness.log.list(status="failed")}


@respx.mock
def test_one_event_twice_in_a_batch_is_sent_once_and_neither_copy_waits(aws: Queues) -> None:
    # The bus and SQS deliver at least once: before, the second copy found the first one's claim,
    # was held back for the claim's whole lease (120 s) and kept the queue busy.
    route = respx.post(CM_URL).mock(return_value=httpx.Response(200))
    harness = Harness(aws, cm_destination())
    order = conversion()
    harness.queue(json.dumps(order), json.dumps(order))

    records, counts = harness.run()

    assert len(records) == 2
    assert counts == {"failed": [], "delivered": 1, "duplicate": 1}
    assert route.call_count == 1
    assert harness.delivery(order)["status"] == "delivered"
