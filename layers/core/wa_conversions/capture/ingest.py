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
    SQS_MAX_MESSAGE_BYTES,
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
# Meta sends up to 1000 updates, 3 MB, in one webhook. A body that fits one part goes as it
# came; a larger one is packed into as few messages as hold it. Each part leaves room for the
# attributes its message may carry later: the provider on a re-queue, and the reason, source and time
# when the processor parks it whole in the DLQ (deadletter.py, a reason of at most 1000 characters).
ATTRIBUTE_ROOM = 8 * 1024
PART_BYTES = SQS_MAX_MESSAGE_BYTES - ATTRIBUTE_ROOM
# A part also holds at most this many updates: the processor's time for a record grows with its
# updates (about four AWS calls each), and a record must end well inside the processor's 30 s even
# when DynamoDB is slow, and 1 MiB parts of 400 inbound messages did not under a local burst.
# SQS bills each 64 KiB of a message as a request, so smaller parts cost no more to queue.
PART_UPDATES = 100
# The largest body CM.com and Twilio may post: each sends one message or report per webhook, queued
# whole, far under SQS's limit even once re-encoded as JSON.
MAX_MESSAGE_BYTES = 240_000
# Parts of one webhook go out in this many SendMessageBatch calls at once at most: Meta waits for all.
MAX_CONCURRENT_SENDS = 8
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
    body: bytes,
    document: dict[str, Any],
    max_bytes: int = PART_BYTES,
    limit_bytes: int = PART_BYTES,
    max_updates: int = PART_UPDATES,
) -> list[str]:
    """The body as queue messages, each valid SQS text. A body of up to `max_bytes` and
    `max_updates` goes as it came; a larger one is packed, in order, into the fewest webhooks of the
    same format within both bounds: whole changes while they fit, and a change that does not is cut
    between its updates to fill the part and go on in the next, so the processor reads one format
    whatever the size. An update alone over `max_bytes` goes in a part of its own;
    PayloadTooLargeError when a part would be over `limit_bytes`, which no Meta update comes near."""
    if len(body) <= max_bytes and _update_count(document) <= max_updates:
        # read_webhook decoded these bytes already: they are UTF-8.
        text = sqs_text(body.decode("utf-8"))
        if len(text.encode("utf-8")) <= max_bytes:
            return [text]
    packer = _Packer(document["object"], max_bytes, max_updates)
    for entry in document["entry"]:
        for change in entry.get("changes", []):
            packer.add_change(entry.get("id"), change)
    parts = packer.finish()
    for part in parts:
        if len(part.encode("utf-8")) > limit_bytes:
            raise PayloadTooLargeError(
                f"One update of the webhook takes {len(part.encode('utf-8'))} bytes; "
                f"a queued part holds at most {limit_bytes}"
            )
    return parts


def _update_count(document: dict[str, Any]) -> int:
    """The updates a webhook carries, as the packer counts them (a history chunk's messages each)."""
    count = 0
    for entry in document["entry"]:
        for change in entry.get("changes", []):
            value = change.get("value") if isinstance(change, dict) else None
            if isinstance(value, dict):
                count += sum(_list_count(name, value.get(name)) for name in UPDATE_LISTS)
    return count


def _list_count(name: str, updates: Any) -> int:
    if not isinstance(updates, list):
        return 0
    if name == "history":
        return sum(1 for _ in _history_pieces(updates))
    return len(updates)


def _encode(piece: Any) -> str:
    return sqs_text(json.dumps(piece, separators=(",", ":"), ensure_ascii=False))


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


class _Packer:
    """Fills one part after another with entries of one change each; every size is counted in
    UTF-8 bytes from texts encoded once, each update's too."""

    def __init__(self, obj: str, max_bytes: int, max_updates: int) -> None:
        self._obj = obj
        self._max = max_bytes
        self._max_updates = max_updates
        self._frame = _size(_encode({"object": obj, "entry": []}))
        self._parts: list[str] = []
        self._entries: list[str] = []
        self._used = self._frame
        self._updates = 0

    def _room(self) -> int:
        """Bytes one more entry may take in the open part (with the comma before it)."""
        return self._max - self._used - (1 if self._entries else 0)

    def _update_room(self) -> int:
        return self._max_updates - self._updates

    def _add(self, entry: str, updates: int) -> None:
        self._used += _size(entry) + (1 if self._entries else 0)
        self._updates += updates
        self._entries.append(entry)

    def _close(self) -> None:
        if self._entries:
            self._parts.append(f'{{"object":{_encode(self._obj)},"entry":[{",".join(self._entries)}]}}')
            self._entries, self._used, self._updates = [], self._frame, 0

    def finish(self) -> list[str]:
        self._close()
        return self._parts

    def add_change(self, entry_id: Any, change: Any) -> None:
        def entry(value: Any) -> str:
            return _encode({"id": entry_id, "changes": [{**change, "value": value}]})

        if not isinstance(change, dict) or not isinstance(change.get("value", {}), dict):
            # Not a change the processor can read: it goes whole, to be parked there with the reason.
            self._whole(_encode({"id": entry_id, "changes": [change]}), 0)
            return
        whole = entry(change.get("value", {}))
        count = _update_count({"entry": [{"changes": [change]}]})
        if _size(whole) <= self._room() and count <= self._update_room():
            self._add(whole, count)
            return
        value = dict(change.get("value", {}))
        if isinstance(value.get("history"), list):
            # One history chunk can hold thousands of messages: cut it to a chunk per message to split.
            value["history"] = list(_history_pieces(value["history"]))
        lists = {k: v for k, v in value.items() if k in UPDATE_LISTS and isinstance(v, list) and v}
        if not lists:
            self._whole(whole, count)
            return
        # What is not a list of updates goes with every part: the processor tells what is wrong with it.
        shared = {k: v for k, v in value.items() if k not in lists}
        for list_name, updates in lists.items():
            around = _around(entry({**shared, list_name: [_SLOT]}))
            if around is None:  # the slot's text is in the change itself: encode each chunk whole
                frame = _size(entry({**shared, list_name: []}))
            else:
                frame = _size(around[0]) + _size(around[1]) + 2

            def chunk_entry(encoded: list[str], name: str = list_name, edges: Any = around) -> str:
                if edges is None:
                    return entry({**shared, name: [json.loads(update) for update in encoded]})
                return f"{edges[0]}[{','.join(encoded)}]{edges[1]}"

            chunk: list[str] = []
            size = frame
            for update in updates:
                encoded = _encode(update)
                added = _size(encoded) + (1 if chunk else 0)
                if size + added > self._room() or len(chunk) >= self._update_room():
                    if chunk:
                        self._add(chunk_entry(chunk), len(chunk))
                    self._close()
                    chunk, size, added = [], frame, _size(encoded)
                chunk.append(encoded)
                size += added
            if chunk:
                self._add(chunk_entry(chunk), len(chunk))

    def _whole(self, entry: str, updates: int) -> None:
        if _size(entry) > self._room() or updates > self._update_room():
            self._close()
        self._add(entry, updates)


# A part's change is encoded once with this in place of its update list, which is then written in
# from the updates' texts: no update is encoded twice, whatever the number of parts.
_SLOT = "\ue000wa-conversions-updates\ue000"
_SLOT_TEXT = _encode([_SLOT])


def _around(template: str) -> tuple[str, str] | None:
    """The text before and after the slot's list in `template`, or None if the slot is not alone."""
    if template.count(_SLOT_TEXT) != 1:
        return None
    head, tail = template.split(_SLOT_TEXT)
    return head, tail


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
    all), several calls at once, each with one retry of its failed entries. Any entry still not
    queued refuses the whole hand-off: the provider redelivers, and the processor's ledger skips the
    parts that did get through."""

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
        if len(cut) <= 1:  # the common case: no thread pool on the acknowledging path
            for batch in cut:
                self._send_batch(batch, message_attributes)
            return
        # Lazily: concurrent.futures is only worth its import for a webhook of several calls.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(len(cut), MAX_CONCURRENT_SENDS)) as pool:
            futures = [pool.submit(self._send_batch, batch, message_attributes) for batch in cut]
        refused = [failure for future in futures if (failure := future.exception()) is not None]
        if refused:
            first = refused[0]
            if isinstance(first, HandoffError) and len(refused) == 1:
                raise first
            raise HandoffError(
                f"{len(refused)} of {len(cut)} SendMessageBatch calls failed: {first}"
            ) from first

    def _send_batch(
        self, batch: list[str], message_attributes: dict[str, MessageAttributeValueTypeDef]
    ) -> None:
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
                return
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
