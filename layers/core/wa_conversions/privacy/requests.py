"""Asking for an erasure or an export: what the operator API does itself (docs/privacy.md, "Erasure").

DELETE /contacts/{id} and GET /contacts/{id}/export only record the request and queue it for the
ErasureFunction, which scans the table: the HTTP-facing function holds no Scan or delete, and a large
table cannot make it outlast API Gateway's 29 seconds. Kept apart from privacy.erasure so that the
operator API reaches none of the eraser's calls (tests/unit/test_iam.py reads them from the code).

A request is an ERASURE#<id> (or EXPORT#contact#<id>) item: `pending` with what the eraser starts from
(the contact key and the identifier asked with), then `done` with the counts and none of that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..store import keys
from ..store.dynamo import from_item, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

    from ..store.capture import CaptureRepository

ERASURE_SK = keys.ERASURE
SUPPRESSION_SK = keys.SUPPRESSION
PENDING = "pending"
DONE = "done"
# an export that could not be written (too large), with its reason
FAILED = "failed"
# What a request is while pending: the eraser's starting point, dropped once it is done.
SUBJECT_FIELDS = ("subject_contact_key", "subject_scope", "subject_phone", "subject_user_id")
_ERASURE_IDS = uuid.UUID("5b0f5e2c-7a55-4c1e-9d8e-2f1d3c6a9e41")


def contact_export_pk(export_id: str) -> str:
    """Never a shop's EXPORT#<shop>#...: a shop domain always holds a dot."""
    return keys.data_export_pk("contact", export_id)


def identifier_parts(identifier: str) -> tuple[str | None, str | None]:
    """(phone digits, user id) as GET /contacts/{id} reads its identifier (capture.views)."""
    identifier = identifier.strip()
    if identifier.lstrip("+").isdigit():
        return identifier.lstrip("+"), None
    return None, identifier or None


def contact_of(repository: CaptureRepository, identifier: str) -> tuple[str, dict[str, Any], str] | None:
    """(contact key, contact, seed of its erasure id) of the live contact an identifier names, as
    GET /contacts/{id} finds it; None when there is none. The seed names this contact's lifetime: a
    person who writes again after an erasure is a new contact with a new erasure."""
    from ..capture.views import find_contact_key

    key = find_contact_key(repository, identifier)
    contact = repository.get_contact(key) if key else None
    if key is None or contact is None:
        return None
    return key, contact, f"{key}:{contact.get('created_by') or contact.get('first_seen_at') or ''}"


def _subject(contact_key: str) -> dict[str, str]:
    """The contact and its tenant scope: the eraser takes nothing of another tenant's (docs/tenants.md)."""
    from ..tenants import split_key

    return {"subject_contact_key": contact_key, "subject_scope": split_key(contact_key)[0]}


class ErasureRequests:
    """The erasures' records and suppression marks, read and asked for; never a Scan or a delete."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        hash_key: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table_name
        self._hash_key = hash_key.encode()
        # The erasure's answer lasts as long as the tombstones (docs/privacy.md, "Retention").
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def identity_hash(self, kind: str, value: str) -> str:
        """HMAC-SHA256 under the erasure-hash-key secret: a phone's SHA-256 is reversed by trying
        every number, a keyed hash only by whoever holds the key (docs/privacy.md)."""
        return hmac.new(self._hash_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    def erasure_id(self, seed: str) -> str:
        return str(uuid.uuid5(_ERASURE_IDS, self.identity_hash("erasure", seed)))

    def record(self, erasure_id: str) -> dict[str, Any] | None:
        return self.get(keys.erasure_pk(erasure_id), ERASURE_SK)

    def erasure(self, erasure_id: str) -> dict[str, Any] | None:
        item = self.record(erasure_id)
        return erasure_view(item) if item else None

    def previous_erasure(self, phone: str | None, user_id: str | None) -> dict[str, Any] | None:
        """The answer of the erasure that already took this phone or user id, if any."""
        for kind, value in (("phone", phone), ("user", user_id)):
            if not value:
                continue
            mark = self.get(keys.suppression_pk(self.identity_hash(kind, value)), SUPPRESSION_SK)
            if mark and (found := self.erasure(str(mark["erasure_id"]))):
                return found
        return None

    def request_erasure(self, erasure_id: str, contact_key: str, identifier: str) -> dict[str, Any]:
        """Record the erasure as pending, once: asking again answers the record already there."""
        phone, user_id = identifier_parts(identifier)
        now = int(self._clock())
        record = {
            "pk": keys.erasure_pk(erasure_id),
            "sk": ERASURE_SK,
            "item_type": "erasure",
            "erasure_id": erasure_id,
            "status": PENDING,
            "reason": "operator",
            "requested_at": now,
            "expires_at": now + self.ttl_seconds,
            **_subject(contact_key),
            **({"subject_phone": phone} if phone else {}),
            **({"subject_user_id": user_id} if user_id else {}),
        }
        if self._put_new(record):
            return erasure_view(record)
        return erasure_view(self.record(erasure_id) or record)

    def request_export(self, contact_key: str, identifier: str) -> dict[str, Any]:
        """A new export of the contact, pending until the eraser has written its document."""
        phone, user_id = identifier_parts(identifier)
        export_id = str(uuid.uuid4())
        now = int(self._clock())
        record = {
            "pk": contact_export_pk(export_id),
            "sk": keys.EXPORT,
            "item_type": "data_export",
            "export_id": export_id,
            "status": PENDING,
            "requested_at": now,
            "expires_at": now + EXPORT_DAYS * 86_400,
            **_subject(contact_key),
            **({"subject_phone": phone} if phone else {}),
            **({"subject_user_id": user_id} if user_id else {}),
        }
        self._put_new(record)
        return export_view(record)

    def export(self, export_id: str) -> dict[str, Any] | None:
        item = self.get(contact_export_pk(export_id), keys.EXPORT)
        return export_view(item) if item else None

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")
        return from_item(item) if item else None

    def _put_new(self, item: dict[str, Any]) -> bool:
        try:
            self._client.put_item(
                TableName=self._table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True


# Long enough for the merchant or operator to hand the export over (Shopify gives 30 days to answer).
EXPORT_DAYS = 30


class ErasureQueue:
    """The ErasureFunction's queue: a job names its request by id, never the person."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, job: dict[str, str]) -> None:
        self._client.send_message(QueueUrl=self._url, MessageBody=json.dumps(job, separators=(",", ":")))


def _iso(epoch: Any) -> str | None:
    from ..models.events import iso_timestamp

    return iso_timestamp(int(epoch)) if epoch is not None else None


def erasure_view(item: dict[str, Any]) -> dict[str, Any]:
    """GET /erasures/{id}: pending, or done with what was erased and redacted, by kind and count."""
    return {
        "id": item["erasure_id"],
        "status": item.get("status", DONE),
        "reason": item.get("reason"),
        "requested_at": _iso(item["requested_at"]),
        "completed_at": _iso(item.get("completed_at")),
        "erased": dict(item.get("erased") or {}),
        "redacted": dict(item.get("redacted") or {}),
    }


def export_view(item: dict[str, Any]) -> dict[str, Any]:
    """GET /exports/{id}: pending, or done with everything held about the person, by kind."""
    document = item.get("document")
    return {
        "id": item["export_id"],
        "status": item.get("status", DONE),
        "requested_at": _iso(item["requested_at"]),
        "completed_at": _iso(item.get("completed_at")),
        "held": json.loads(document)["held"] if isinstance(document, str) else None,
        **({"reason": item["reason"]} if item.get("status") == FAILED else {}),
    }
