"""The emails known for contacts, for attributing an order by email when nothing better matched
(docs/shopify.md, "How an order is attributed"). Written by the CRM's /v1/capture events; every
write is a put of the same item, so a redelivered batch changes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..models.retention import DEFAULT_RETENTION, Retention
from . import keys
from .dynamo import batch_write, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


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
        requests = [{"PutRequest": {"Item": to_item(item)}} for item in items.values()]
        batch_write(self._client, self._table, requests, what="contact email writes")
