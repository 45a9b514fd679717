"""Acknowledging a WhatsApp webhook: verify, check the shape, hand off durably, then answer.

Meta retries anything but a 200 for days and offers no way to fetch a missed webhook, so the body is
queued before the 200 goes out, and a failure to queue is a 5xx that makes Meta retry. Parsing proper
happens behind the queue; here only the standard library is used, to keep the cold start small.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..aws_limits import (
    SQS_MAX_BATCH_BYTES,
    SQS_MAX_ENTRIES,
    EntryTooLargeError,
    batches,
    sqs_message_size,
    sqs_text,
)
from ..errors import ApiError, BadRequestError, ForbiddenError, HandoffError, UnauthorizedError
from ..jsontext import JsonTextError, loads
from ..signatures import constant_time_equals, verify_hmac_sha256, verify_meta_signature

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        MessageAttributeValueTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

WHATSAPP_BUSINESS_ACCOUNT = "whatsapp_business_account"
# Meta sends up to 1000 updates, 3 MB, in one webhook: it is queued in parts of about 64 kB (a few
# dozen updates), each a short processor record, so a slow one holds few others back.
PART_BYTES = 64_000
# The most one part may take (an update alone larger than PART_BYTES): far under SQS's 1 MiB.
MAX_MESSAGE_BYTES = 240_000
UPDATE_LISTS = ("messages", "statuses", "automatic_events", "message_echoes", "history")


class PayloadTooLargeError(ApiError):
    status_code = 413
    code = "payload_too_large"


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
        document = loads(body)
    except JsonTextError as error:
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


def split_for_queue(
    body: bytes, document: dict[str, Any], max_bytes: int = PART_BYTES, limit_bytes: int = MAX_MESSAGE_BYTES
) -> list[str]:
    """The body as queue messages, each valid SQS text. A body of up to `max_bytes` goes as it came;
    a larger one is cut into smaller webhooks of the same format (one change, or a slice of one
    change's updates, each, of up to `max_bytes` unless one update alone is larger), so the processor
    reads one format whatever the size. Raises PayloadTooLargeError when a part would be over
    `limit_bytes`, which no Meta update comes near."""
    if len(body) <= max_bytes:
        # read_webhook decoded these bytes already: they are UTF-8.
        text = sqs_text(body.decode("utf-8"))
        if len(text.encode("utf-8")) <= max_bytes:
            return [text]
    parts = _packed(document["object"], list(_pieces(document, max_bytes)), max_bytes)
    for part in parts:
        if len(part.encode("utf-8")) > limit_bytes:
            raise PayloadTooLargeError(
                f"One update of the webhook takes {len(part.encode('utf-8'))} bytes; "
                f"a queued part holds at most {limit_bytes}"
            )
    return parts


def _pieces(document: dict[str, Any], max_bytes: int) -> Iterator[str]:
    for entry in document["entry"]:
        for change in entry.get("changes", []):
            yield from _change_pieces(document["object"], entry.get("id"), change, max_bytes)


def _packed(obj: str, parts: list[str], max_bytes: int) -> list[str]:
    """Consecutive one-entry parts joined into webhooks of several entries, up to `max_bytes`: a
    webhook of 1000 changes of one update each is then ~40 messages, not 1000 that the webhook
    function must queue before Meta's timeout."""
    frame = len(_encode({"object": obj, "entry": []}).encode("utf-8"))
    groups: list[list[str]] = []
    size = max_bytes + 1  # no group open yet
    for part in parts:
        entry_bytes = len(part.encode("utf-8")) - frame
        if size + 1 + entry_bytes > max_bytes:  # the 1 is the comma between two entries
            groups.append([])
            size = frame - 1
        groups[-1].append(part)
        size += 1 + entry_bytes
    return [
        group[0]
        if len(group) == 1
        else _encode({"object": obj, "entry": [e for part in group for e in json.loads(part)["entry"]]})
        for group in groups
    ]


def _encode(piece: Any) -> str:
    return sqs_text(json.dumps(piece, separators=(",", ":"), ensure_ascii=False))


def _change_pieces(obj: str, entry_id: Any, change: Any, max_bytes: int) -> Iterator[str]:
    if not isinstance(change, dict) or not isinstance(change.get("value", {}), dict):
        # Not a change the processor can read: it goes whole, to be parked there with the reason.
        yield _encode({"object": obj, "entry": [{"id": entry_id, "changes": [change]}]})
        return

    def wrap(value: dict[str, Any]) -> str:
        return _encode({"object": obj, "entry": [{"id": entry_id, "changes": [{**change, "value": value}]}]})

    whole = wrap(change.get("value", {}))
    if len(whole.encode("utf-8")) <= max_bytes:
        yield whole
        return
    value = dict(change.get("value", {}))
    if isinstance(value.get("history"), list):
        # One history chunk can hold thousands of messages: cut it to a chunk per message to split.
        value["history"] = list(_history_pieces(value["history"]))
    lists = {k: v for k, v in value.items() if k in UPDATE_LISTS and isinstance(v, list)}
    # What is not a list of updates goes with every part: the processor tells what is wrong with it.
    shared = {k: v for k, v in value.items() if k not in lists}
    for list_name, updates in lists.items():
        # A part's size is its frame's plus each update's and a comma between two: each update is
        # encoded once, not once per part it could join.
        frame = len(wrap({**shared, list_name: []}).encode("utf-8"))
        chunk: list[Any] = []
        size = frame
        for update in updates:
            added = len(_encode(update).encode("utf-8")) + (1 if chunk else 0)
            if chunk and size + added > max_bytes:
                yield wrap({**shared, list_name: chunk})
                chunk, size = [], frame
                added -= 1
            chunk.append(update)
            size += added
        if chunk:
            yield wrap({**shared, list_name: chunk})


def _history_pieces(chunks: list[Any]) -> Iterator[Any]:
    """Each message of each thread as a chunk of its own, with its chunk's metadata and thread id;
    what is not of the documented shape goes as it came, for the processor to park."""
    for chunk in chunks:
        threads = chunk.get("threads") if isinstance(chunk, dict) else None
        if not isinstance(threads, list) or not all(
            isinstance(t, dict) and isinstance(t.get("messages", []), list) for t in threads
        ):
            yield chunk
            continue
        shared = {k: v for k, v in chunk.items() if k != "threads"}
        for thread in threads:
            head = {k: v for k, v in thread.items() if k != "messages"}
            for message in thread.get("messages", []):
                yield {**shared, "threads": [{**head, "messages": [message]}]}


class IngestQueue:
    """The durable hand-off: SendMessageBatch in batches within SQS's limits (ten messages, 1 MiB in
    all), with one retry of failed entries."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, bodies: list[str], *, attributes: dict[str, str] | None = None) -> None:
        """`attributes` become SQS string message attributes on every body (e.g. provider=cm)."""
        message_attributes: dict[str, MessageAttributeValueTypeDef] = {
            name: {"DataType": "String", "StringValue": value} for name, value in (attributes or {}).items()
        }
        extra = sqs_message_size({"MessageAttributes": message_attributes})

        def size_of(body: str) -> int:
            return sqs_message_size({"MessageBody": body}) + extra

        try:
            cut = list(batches(bodies, size_of, max_entries=SQS_MAX_ENTRIES, max_bytes=SQS_MAX_BATCH_BYTES))
        except EntryTooLargeError as error:
            raise HandoffError(f"A webhook part is too large for SQS: {error}") from error
        for batch in cut:
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
