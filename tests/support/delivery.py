"""The delivery side in moto for unit tests: the single table (from template.yaml), a destination queue
and its DLQ; conversion events as the forwarders' queues carry them; and queued records."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws

from devstack.pollers import sqs_record
from tests.support.cfn import create_table, load_template
from wa_conversions.delivery.runner import QueuedMessage
from wa_conversions.models.events import iso_timestamp

REGION = "us-east-1"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:destination"
# A fixed "now" for conversions: 2026-03-02T10:00:00Z, the click an hour before the order.
NOW = 1_772_445_600
CLICKED_AT = NOW - 3600
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_METRICS_NAMESPACE": "WaConversionsUnit",
}


@cache
def _template() -> dict[str, Any]:
    return load_template()


@contextmanager
def moto_aws() -> Iterator[None]:
    """moto in place of AWS, with the credentials and region boto3 needs; for a whole module at once:
    starting moto costs more than a test's own calls."""
    with mock.patch.dict(os.environ, ENVIRONMENT), mock_aws():
        os.environ.pop("AWS_ENDPOINT_URL", None)
        yield


@dataclass(frozen=True)
class DeliveryAws:
    """A table of the template's definition, a destination queue and its DLQ, each new (inside moto_aws)."""

    dynamodb: Any
    sqs: Any
    table: str
    queue_url: str
    dlq_url: str

    @classmethod
    def create(cls) -> DeliveryAws:
        suffix = uuid.uuid4().hex[:12]
        dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
        create_table(dynamodb, _template(), "Table", f"table-{suffix}")
        return cls(
            dynamodb=dynamodb,
            sqs=sqs,
            table=f"table-{suffix}",
            queue_url=sqs.create_queue(QueueName=f"destination-{suffix}")["QueueUrl"],
            dlq_url=sqs.create_queue(QueueName=f"destination-dlq-{suffix}")["QueueUrl"],
        )

    def drop(self) -> None:
        self.dynamodb.delete_table(TableName=self.table)
        for url in (self.queue_url, self.dlq_url):
            self.sqs.delete_queue(QueueUrl=url)

    def records(self, *bodies: str) -> list[dict[str, Any]]:
        """Queue `bodies`, then receive them as the records Lambda's event source mapping hands over."""
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)
        received: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", []):
            received += [sqs_record(message, QUEUE_ARN, REGION) for message in batch]
        return received

    def visible(self) -> list[str]:
        """The bodies one could receive from the destination queue right now."""
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [message["Body"] for message in messages]

    def parked(self) -> list[tuple[str, str]]:
        """(body, reason) of each message in the DLQ."""
        messages = self.sqs.receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        return [(m["Body"], m["MessageAttributes"]["reason"]["StringValue"]) for m in messages]


def conversion_event(
    kind: str = "order",
    *,
    detail_type: str = "conversion.attributed",
    at: int = NOW,
    envelope: bool = True,
    **properties: Any,
) -> dict[str, Any]:
    """A conversion as the bus delivers it (docs/events.md): an attributed order of shop s.myshopify.com
    unless told otherwise; a property given as None is left out."""
    conversion_id = properties.pop("conversionId", "shopify:s.myshopify.com:1001")
    found: dict[str, Any] = {
        "conversionId": conversion_id,
        "eventId": f"{conversion_id}:{kind}",
        "kind": kind,
        "shop": "s.myshopify.com",
        "orderId": "1001",
        "value": 59.9,
        "currency": "eur",
        "phone": "16505551234",
        "contactKey": "16505551234",
        "ctwaClid": "Aff-n8ZTODiE79d22KtAwQ",
        "sourceId": "120226305854810726",
        "clickedAt": CLICKED_AT,
        "attribution": {"status": "attributed", "model": "last_touch", "reason": None},
    }
    found.update(properties)
    detail = {
        "type": "track",
        "event": detail_type,
        "timestamp": iso_timestamp(at),
        "context": {"channel": "whatsapp", "provider": "shopify"},
        "properties": {name: value for name, value in found.items() if value is not None},
    }
    if not envelope:
        return detail
    return {"version": "0", "source": "wa-conversions", "detail-type": detail_type, "detail": detail}


def queued(message: Any, receive_count: int = 1, message_id: str = "m-1") -> QueuedMessage:
    body = json.dumps(message)
    return QueuedMessage(message_id, f"handle-{message_id}", body, receive_count, json.loads(body))
