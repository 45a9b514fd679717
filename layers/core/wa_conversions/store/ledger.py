"""Which updates have been applied: the dedupe ledger for webhook updates, one of the four dedupe
mechanisms (docs/idempotency.md, "Update ledger", for its key, expiry and replay contract).

Meta batches up to 1000 updates per webhook, so deduplication is done a batch at a time (BatchGetItem,
BatchWriteItem) rather than with one conditional write per update. Entries live in the idempotency
table, in Powertools' own schema (id, expiration), and expire after Meta's retry window.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .dynamo import batch_get, batch_write, serialize
from .keys import CAPTURE_UPDATES, marker_id, marker_key_of

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


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
        return self.applied_together([(self, keys)])[0]

    def applied_together(self, asks: Sequence[tuple[UpdateLedger, Iterable[str]]]) -> list[set[str]]:
        """Each ledger's subset of its keys already applied (and not expired), read in one BatchGetItem
        (100 ids a call) of this ledger's table: ledgers of one table differ by namespace only."""
        if any(ledger._table != self._table for ledger, _ in asks):
            raise ValueError("ledgers read together must share their table")
        owners: dict[str, list[int]] = {}
        for index, (ledger, keys) in enumerate(asks):
            for key in dict.fromkeys(keys):
                owners.setdefault(ledger._id(key), []).append(index)
        wanted = [{"id": serialize(marker)} for marker in owners]
        now = int(time.time())
        found: list[set[str]] = [set() for _ in asks]
        items = batch_get(self._client, self._table, wanted, what="ledger reads", projection="id, expiration")
        for item in items:
            if int(item["expiration"]["N"]) > now:
                marker = item["id"]["S"]
                for index in owners[marker]:
                    found[index].add(marker_key_of(marker))
        return found

    def forget(self, keys: Iterable[str]) -> None:
        """Delete entries (an erasure: privacy.erasure); deleting one that is not there is a no-op."""
        requests = [{"DeleteRequest": {"Key": {"id": serialize(self._id(k))}}} for k in dict.fromkeys(keys)]
        batch_write(self._client, self._table, requests, what="ledger deletes")

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
        batch_write(self._client, self._table, items, what="ledger writes")
