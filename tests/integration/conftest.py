"""In-process AWS (moto) with the template's resources, and a harness that plays API Gateway and the
SQS event source mapping around the real handlers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.sample_events import proxy_event, read_env
from tests.support.cfn import create_table, load_template
from tests.support.lambdas import FakeContext, load_handler, sqs_event
from tests.support.retention import kinds_without_ttl
from wa_conversions import reset

TABLE = "wa-conversions-table"
IDEMPOTENCY_TABLE = "wa-conversions-idempotency"
BUS = "wa-conversions-events"
PREFIX = "/wa-conversions"


@dataclass
class CaptureHarness:
    ingest_url: str
    dlq_url: str
    observer_url: str
    env: dict[str, str]
    handlers: dict[str, Any] = field(default_factory=dict)
    # the ErasureFunction's queue (docs/privacy.md)
    erasure_url: str = ""

    def handler(self, name: str) -> Any:
        if name not in self.handlers:
            self.handlers[name] = load_handler(name)
        return self.handlers[name]

    def invoke(self, name: str, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        result: dict[str, Any] = self.handler(name).lambda_handler(event, context or FakeContext())
        return result

    def post(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.invoke("whatsapp_webhook", event)

    def drain(self, max_rounds: int = 20) -> list[dict[str, Any]]:
        """Feed queued webhooks to the processor as Lambda's event source mapping would, deleting only
        the records it did not report as failed. Returns the processor's batch responses."""
        sqs = boto3.client("sqs")
        responses = []
        for _ in range(max_rounds):
            received = sqs.receive_message(QueueUrl=self.ingest_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not received:
                break
            event = sqs_event([m["Body"] for m in received])
            by_id = {}
            for record, message in zip(event["Records"], received, strict=True):
                by_id[record["messageId"]] = message
            response = self.invoke("whatsapp_processor", event)
            responses.append(response)
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            for message_id, message in by_id.items():
                if message_id not in failed:
                    sqs.delete_message(QueueUrl=self.ingest_url, ReceiptHandle=message["ReceiptHandle"])
        return responses

    def drain_erasures(self, max_rounds: int = 20) -> list[dict[str, Any]]:
        """Feed queued erasure jobs to the ErasureFunction one at a time (its batch size), deleting
        only the ones it did not report as failed. Returns its batch responses."""
        sqs = boto3.client("sqs")
        responses = []
        for _ in range(max_rounds):
            received = sqs.receive_message(QueueUrl=self.erasure_url, MaxNumberOfMessages=1).get(
                "Messages", []
            )
            if not received:
                break
            response = self.invoke("erasure", sqs_event([received[0]["Body"]]), ErasureContext())
            responses.append(response)
            if not response.get("batchItemFailures"):
                sqs.delete_message(QueueUrl=self.erasure_url, ReceiptHandle=received[0]["ReceiptHandle"])
        return responses

    def bus_events(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        events = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.observer_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return events
            for message in batch:
                events.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.observer_url, ReceiptHandle=message["ReceiptHandle"])

    def api_get(
        self, path: str, resource: str, params: dict[str, str], api_key: str | None = ""
    ) -> dict[str, Any]:
        headers = {} if api_key is None else {"X-Api-Key": api_key or self.env["API_KEY"]}
        event = proxy_event("GET", path, resource=resource, headers=headers, path_parameters=params)
        return self.invoke("operator_api", event)


class ErasureContext(FakeContext):
    """The ErasureFunction's invocation: its 900 s timeout (template.yaml), all of it left."""

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[CaptureHarness]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "WaConversionsTest")
    with mock_aws():
        template = load_template()
        dynamodb = boto3.client("dynamodb")
        create_table(dynamodb, template, "Table", TABLE)
        create_table(dynamodb, template, "IdempotencyTable", IDEMPOTENCY_TABLE)
        sqs = boto3.client("sqs")
        dlq_url = sqs.create_queue(QueueName="ingest-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        ingest_url = sqs.create_queue(
            QueueName="ingest",
            Attributes={
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
            },
        )["QueueUrl"]
        observer_url = sqs.create_queue(QueueName="observer")["QueueUrl"]
        erasure_dlq_arn = sqs.get_queue_attributes(
            QueueUrl=sqs.create_queue(QueueName="erasure-dlq")["QueueUrl"], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        erasure_url = sqs.create_queue(
            QueueName="erasure",
            Attributes={
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": erasure_dlq_arn, "maxReceiveCount": "5"})
            },
        )["QueueUrl"]
        observer_arn = sqs.get_queue_attributes(QueueUrl=observer_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events = boto3.client("events")
        events.create_event_bus(Name=BUS)
        events.put_rule(
            Name="observe-all", EventBusName=BUS, EventPattern=json.dumps({"source": ["wa-conversions"]})
        )
        events.put_targets(
            Rule="observe-all", EventBusName=BUS, Targets=[{"Id": "observer", "Arn": observer_arn}]
        )
        env = read_env()
        ssm = boto3.client("ssm")
        for key, value in env.items():
            ssm.put_parameter(
                Name=f"{PREFIX}/{key.lower().replace('_', '-')}",
                Value=value,
                Type="SecureString",
                Overwrite=True,
            )
        for name, value in {
            "PARAMETER_PREFIX": PREFIX,
            "TABLE_NAME": TABLE,
            "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
            "EVENT_BUS_NAME": BUS,
            "INGEST_QUEUE_URL": ingest_url,
            "DEAD_LETTER_QUEUE_URL": dlq_url,
            "ERASURE_QUEUE_URL": erasure_url,
        }.items():
            monkeypatch.setenv(name, value)
        reset()
        yield CaptureHarness(
            ingest_url=ingest_url,
            dlq_url=dlq_url,
            observer_url=observer_url,
            env=env,
            erasure_url=erasure_url,
        )
        try:
            assert_every_record_expires(
                dynamodb, template, {"Table": TABLE, "IdempotencyTable": IDEMPOTENCY_TABLE}
            )
        finally:
            reset()


def assert_every_record_expires(client: Any, template: dict[str, Any], tables: dict[str, str]) -> None:
    """After a test: every item its flows wrote carries the table's TTL (README, "Retention")."""
    assert kinds_without_ttl(client, template, tables) == {}, "records kept forever: give each kind a TTL"
