"""A contact's ads consent (PUT /contacts/{id}/consent), kept on the contact's profile item.

Meta's forwarder reads it for every conversion of the contact: `ads: false` sends the event with
opt_out true or skips it (MetaNoConsent, docs/forwarding.md). Never given means no restriction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from . import keys
from .dynamo import UpdateBuilder, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A batch names the same contacts again and again: look each up once per this many seconds.
CACHE_SECONDS = 30.0


class ContactConsent:
    def __init__(
        self, client: DynamoDBClient, table_name: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock
        self._cache: dict[str, tuple[float, bool | None]] = {}

    def _key(self, contact_key: str) -> dict[str, object]:
        return {"pk": serialize(keys.contact_pk(contact_key)), "sk": serialize(keys.PROFILE)}

    def get(self, contact_key: str) -> bool | None:
        """True or False as the contact said, None when it never did (or is unknown)."""
        now = self._clock()
        cached = self._cache.get(contact_key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        item = self._client.get_item(
            TableName=self._table,
            Key=self._key(contact_key),  # type: ignore[arg-type]
            ProjectionExpression="ads_consent",
        ).get("Item")
        value = item.get("ads_consent", {}).get("BOOL") if item else None
        self._cache[contact_key] = (now, value)
        return value

    def prefetch(self, contact_keys: Iterable[str]) -> None:
        """Looks a batch's contacts up together, 100 keys per BatchGetItem (DynamoDB's limit); what
        stays unprocessed is looked up one by one when asked for."""
        now = self._clock()
        wanted = sorted(
            {
                k
                for k in contact_keys
                if k and (k not in self._cache or now - self._cache[k][0] >= CACHE_SECONDS)
            }
        )
        for start in range(0, len(wanted), 100):
            chunk = wanted[start : start + 100]
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [self._key(k) for k in chunk],
                    "ProjectionExpression": "pk, ads_consent",
                }
            }
            found: dict[str, bool | None] = {}
            for _ in range(3):
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    key = keys.contact_key_of(str(item["pk"]["S"])) or ""
                    found[key] = item.get("ads_consent", {}).get("BOOL")
                request = dict(answer.get("UnprocessedKeys") or {})
                if not request:
                    break
            unprocessed = {
                keys.contact_key_of(str(k["pk"]["S"])) or ""
                for k in (request.get(self._table) or {}).get("Keys", [])
            }
            for key in chunk:
                if key not in unprocessed:
                    self._cache[key] = (now, found.get(key))

    def set(self, contact_key: str, ads: bool, at: int) -> bool:
        """Records the contact's choice; False when there is no such contact."""
        try:
            update = UpdateBuilder().set("ads_consent", ads).set("ads_consent_at", at)
            self._client.update_item(
                TableName=self._table,
                Key=self._key(contact_key),  # type: ignore[arg-type]
                **update.condition("attribute_exists(pk)").kwargs(),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        self._cache.pop(contact_key, None)
        return True
