"""Parking a message that can never succeed in its dead-letter queue at once, with the reason.

Retrying a permanent failure (a body that does not validate, a 400 from a destination) only delays it
and hides the reason; the DLQ keeps it, with why, for an operator to inspect and redrive.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .aws_limits import sqs_text

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

REASON_ATTRIBUTE = "reason"
# The attributes a parked message gets here; a message parked again has them renewed.
DLQ_ATTRIBUTES = frozenset({REASON_ATTRIBUTE, "source", "parked_at"})
MAX_REASON_LENGTH = 1000


class DeadLetterQueue:
    def __init__(self, client: SQSClient, queue_url: str, source: str) -> None:
        self._client = client
        self._url = queue_url
        self._source = source

    def park(self, body: str, reason: str, *, attributes: dict[str, str] | None = None) -> None:
        """`attributes`: the message's own attributes to keep (e.g. provider), so a redrive reads it
        as it was first read. `body` is JSON text (raw characters SQS refuses become escapes); the
        reason, which can quote the body, keeps only characters SQS takes."""
        self._client.send_message(
            QueueUrl=self._url,
            MessageBody=sqs_text(body),
            MessageAttributes={
                **{
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in (attributes or {}).items()
                },
                REASON_ATTRIBUTE: {
                    "DataType": "String",
                    "StringValue": sqs_text(reason[:MAX_REASON_LENGTH]) or "unknown",
                },
                "source": {"DataType": "String", "StringValue": self._source},
                "parked_at": {"DataType": "String", "StringValue": datetime.now(UTC).isoformat()},
            },
        )
