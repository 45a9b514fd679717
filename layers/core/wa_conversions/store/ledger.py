"""Which updates have been applied: the dedupe ledger for webhook updates, one of the four dedupe
mechanisms (docs/idempotency.md, "Update ledger", for its key, expiry and replay contract).

Meta batches up to 1000 updates per webhook, so deduplication is done a batch at a time (BatchGetItem,
BatchWriteItem) rather than with one conditional write per update. Entries live in the idempotency
table, in Powertools' own schema (id, expiration), and expire after Meta's retry window.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .dynamo import serialize
from .keys import CAPTURE_UPDATES, marker_id, marker_key_of

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
MAX_UNPROCESSED_ROUNDS = 8


class UpdateLedger:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        ttl_seconds: int,
        namespace: str = CAPTURE_UPDATES,
    ) -> None:
        self._client = client
        self._table = table_name
        self._ttl = ttl_seconds
        self._namespace = namespace

    def _id(self, key: str) -> str:
        return marker_id(self._namespace, key)

    def applied(self, keys: Iterable[str]) -> set[str]:
        """The subset of keys already applied (and not expired)."""
        wanted = list(dict.fromkeys(keys))
        found: set[str] = set()
        now = int(time.time())
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [{"id": serialize(self._id(k))} for k in wanted[start : start + BATCH_GET_LIMIT]],
                    "ProjectionExpression": "id, expiration",
                }
            }
            for _ in range(MAX_UNPROCESSED_ROUNDS):
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    if int(item["expiration"]["N"]) > now:
                        found.add(marker_key_of(item["id"]["S"]))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise RuntimeError("DynamoDB kept keys unprocessed; the batch will be retried")
        return found

    def forget(self, keys: Iterable[str]) -> None:
        """Delete entries (an erasure: privacy.erasure); deleting one that is not there is a no-op."""
        requests = [{"DeleteRequest": {"Key": {"id": serialize(self._id(k))}}} for k in dict.fromkeys(keys)]
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            request: dict[str, Any] = {self._table: requests[start : start + BATCH_WRITE_LIMIT]}
            for _ in range(MAX_UNPROCESSED_ROUNDS):
                request = self._client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if not request:
                    break
            else:
                raise RuntimeError("DynamoDB kept deletes unprocessed; the erasure will be retried")

    def mark_applied(self, keys: Iterable[str]) -> None:
        expiration = serialize(int(time.time()) + self._ttl)
        items = [
            {
                "PutRequest": {
                    "Item": {
                        "id": serialize(self._id(k)),
                        "expiration": expiration,
                        "status": serialize("COMPLETED"),
                    }
                }
            }
            for k in dict.fromkeys(keys)
        ]
        for start in range(0, len(items), BATCH_WRITE_LIMIT):
            request: dict[str, Any] = {self._table: items[start : start + BATCH_WRITE_LIMIT]}
            for _ in range(MAX_UNPROCESSED_ROUNDS):
                response = self._client.batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or {}
                if not request:
                    break
            else:
                raise RuntimeError("DynamoDB kept writes unprocessed; the batch will be retried")
