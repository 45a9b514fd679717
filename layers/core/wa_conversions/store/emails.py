"""The emails known for contacts, for attributing an order by email when nothing better matched
(docs/shopify.md, "How an order is attributed"). Written by the CRM's /v1/capture events; every
write is a put of the same item, so a redelivered batch changes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..models.retention import DEFAULT_RETENTION, Retention
from . import keys
from .dynamo import to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_WRITE_LIMIT = 25
MAX_UNPROCESSED_ROUNDS = 5


class ContactEmails:
    def __init__(
        self, client: DynamoDBClient, table_name: str, *, retention: Retention = DEFAULT_RETENTION
    ) -> None:
        self._client = client
        self._table = table_name
        self._retention = retention

    def remember(self, pairs: Iterable[tuple[str, str]], source: str) -> None:
        """Record (contact key, email) pairs."""
        now = int(time.time())
        items = {
            (keys.email_pk(email), keys.contact_pk(contact_key)): {
                "pk": keys.email_pk(email),
                "sk": keys.contact_pk(contact_key),
                "item_type": "contact_email",
                "contact_key": contact_key,
                "source": source,
                "seen_at": now,
                # seen again, kept again: as long as a contact that keeps talking
                "expires_at": self._retention.contact_expiry(now),
            }
            for contact_key, email in pairs
        }
        wanted = list(items.values())
        for start in range(0, len(wanted), BATCH_WRITE_LIMIT):
            request: dict[str, Any] = {
                self._table: [
                    {"PutRequest": {"Item": to_item(item)}}
                    for item in wanted[start : start + BATCH_WRITE_LIMIT]
                ]
            }
            for _ in range(MAX_UNPROCESSED_ROUNDS):
                request = self._client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if not request:
                    break
            else:
                raise RuntimeError("DynamoDB kept contact emails unwritten; the batch will be retried")
