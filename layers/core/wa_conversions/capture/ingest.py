"""Acknowledging a WhatsApp webhook: verify, check the shape, hand off durably, then answer.

Meta retries anything but a 200 for days and offers no way to fetch a missed webhook, so the body is
queued before the 200 goes out, and a failure to queue is a 5xx that makes Meta retry. Parsing proper
happens behind the queue; here only json is used, to keep the cold start of this function small.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import BadRequestError, ForbiddenError, HandoffError, UnauthorizedError
from ..signatures import constant_time_equals, verify_hmac_sha256, verify_meta_signature

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        MessageAttributeValueTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

WHATSAPP_BUSINESS_ACCOUNT = "whatsapp_business_account"
# SQS takes 256 KiB per message and per batch; Meta sends up to 3 MB. Leave room for the envelope.
MAX_MESSAGE_BYTES = 240_000
SQS_BATCH = 10
UPDATE_LISTS = ("messages", "statuses", "automatic_events")


def answer_handshake(query: dict[str, str], verify_token: str) -> str:
    """Meta's subscription check: echo hub.challenge when hub.verify_token matches."""
    if query.get("hub.mode") != "subscribe" or "hub.challenge" not in query:
        raise BadRequestError("Expected hub.mode=subscribe with hub.challenge and hub.verify_token")
    if not constant_time_equals(query.get("hub.verify_token", ""), verify_token):
        raise ForbiddenError("hub.verify_token does not match")
    return query["hub.challenge"]


@dataclass(frozen=True, slots=True)
class WebhookSignature:
    """The signature a webhook came with. Meta signs with the app secret (X-Hub-Signature-256);
    360dialog, forwarding Meta's payload, signs with its platform secret (x-360dialog-signature)."""

    meta: str | None
    dialog360: str | None

    @classmethod
    def from_headers(cls, headers: dict[str, str]) -> WebhookSignature:
        return cls(meta=headers.get("x-hub-signature-256"), dialog360=headers.get("x-360dialog-signature"))


def check_signature(body: bytes, signature: WebhookSignature, secret_of: Callable[[str], str | None]) -> None:
    """`secret_of("meta" | "dialog360")` gives the configured secret, or None when there is none."""
    if signature.meta:
        secret = secret_of("meta")
        if secret is None or not verify_meta_signature(body, signature.meta, secret):
            raise ForbiddenError("X-Hub-Signature-256 does not match the body")
        return
    if signature.dialog360:
        secret = secret_of("dialog360")
        if secret is None:
            raise ForbiddenError("x-360dialog-signature given, but no 360dialog secret is configured")
        if not verify_hmac_sha256(body, signature.dialog360, secret):
            raise ForbiddenError("x-360dialog-signature does not match the body")
        return
    raise UnauthorizedError("Missing X-Hub-Signature-256 header")


def read_webhook(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise BadRequestError(f"Body is not valid JSON: {error}") from None
    if not isinstance(document, dict) or document.get("object") != WHATSAPP_BUSINESS_ACCOUNT:
        raise BadRequestError(
            'Not a WhatsApp Business Account webhook: "object" must be "whatsapp_business_account"'
        )
    entries = document.get("entry")
    if not isinstance(entries, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("changes", []), list) for entry in entries
    ):
        raise BadRequestError('Not a WhatsApp Business Account webhook: "entry" must be a list of entries')
    return document


def split_for_queue(body: bytes, document: dict[str, Any], max_bytes: int = MAX_MESSAGE_BYTES) -> list[str]:
    """The body as queue messages. A body that fits goes as it came; a larger one is cut into smaller
    webhooks of the same format (one change, or a slice of one change's updates, each), so the
    processor reads one format whatever the size."""
    if len(body) <= max_bytes:
        return [body.decode("utf-8")]
    return list(_pieces(document, max_bytes))


def _pieces(document: dict[str, Any], max_bytes: int) -> Iterator[str]:
    for entry in document["entry"]:
        for change in entry.get("changes", []):
            yield from _change_pieces(document["object"], entry.get("id"), change, max_bytes)


def _change_pieces(obj: str, entry_id: Any, change: dict[str, Any], max_bytes: int) -> Iterator[str]:
    def wrap(value: dict[str, Any]) -> str:
        piece = {"object": obj, "entry": [{"id": entry_id, "changes": [{**change, "value": value}]}]}
        return json.dumps(piece, separators=(",", ":"), ensure_ascii=False)

    whole = wrap(change.get("value", {}))
    if len(whole.encode("utf-8")) <= max_bytes:
        yield whole
        return
    value = dict(change.get("value", {}))
    shared = {k: v for k, v in value.items() if k not in UPDATE_LISTS}
    for list_name in UPDATE_LISTS:
        chunk: list[Any] = []
        for update in value.get(list_name) or []:
            candidate = wrap({**shared, list_name: [*chunk, update]})
            if chunk and len(candidate.encode("utf-8")) > max_bytes:
                yield wrap({**shared, list_name: chunk})
                chunk = []
            chunk.append(update)
        if chunk:
            yield wrap({**shared, list_name: chunk})


class IngestQueue:
    """The durable hand-off: SendMessageBatch in groups of ten, with one retry of failed entries."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, bodies: list[str], *, attributes: dict[str, str] | None = None) -> None:
        """`attributes` become SQS string message attributes on every body (e.g. provider=cm)."""
        message_attributes: dict[str, MessageAttributeValueTypeDef] = {
            name: {"DataType": "String", "StringValue": value} for name, value in (attributes or {}).items()
        }
        for start in range(0, len(bodies), SQS_BATCH):
            batch = bodies[start : start + SQS_BATCH]
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)
            ]
            if message_attributes:
                for entry in entries:
                    entry["MessageAttributes"] = message_attributes
            for _attempt in range(2):
                try:
                    result = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
                except Exception as error:  # any transport or service error: the provider must retry
                    raise HandoffError(f"Could not queue the webhook: {type(error).__name__}") from error
                failed_ids = {failure["Id"] for failure in result.get("Failed", [])}
                entries = [entry for entry in entries if entry["Id"] in failed_ids]
                if not entries:
                    break
            if entries:
                raise HandoffError(f"SQS refused {len(entries)} of {len(batch)} webhook parts")


def accept_webhook(
    body: bytes,
    signature: WebhookSignature,
    secret_of: Callable[[str], str | None],
    queue_factory: Callable[[], IngestQueue],
) -> int:
    """Verify and queue one webhook; returns the number of queue messages it became."""
    check_signature(body, signature, secret_of)
    document = read_webhook(body)
    parts = split_for_queue(body, document)
    queue_factory().send(parts)
    return len(parts)
