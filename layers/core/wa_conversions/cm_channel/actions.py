"""The operator's CM.com actions: mark a message as read, block or unblock a contact.

Each checks what it can here (the message exists and can be marked; the contact wrote within the
last 24 hours, which WhatsApp requires for a block), records the state, and queues the event for the
CmEventsFunction, which sends it with the delivery machinery's guarantees.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..capture.views import find_contact_key
from ..errors import ConflictError, HandoffError, NotFoundError
from ..models.domain import user_id_of_key
from .commands import EventCommand, EventType, has_wamid

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from ..store.capture import CaptureRepository
    from ..store.cm_channel import CmChannelRepository

# WhatsApp lets a business block only users who messaged it in the last 24 hours (CM.com's events
# page, "Limitations").
BLOCK_WINDOW_SECONDS = 24 * 3600


class EventQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, command: EventCommand) -> None:
        try:
            self._client.send_message(QueueUrl=self._url, MessageBody=command.model_dump_json())
        except Exception as error:  # any transport or service error: the caller must retry
            raise HandoffError(f"Could not queue the CM.com event: {type(error).__name__}") from error


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an action did; the HTTP layer picks the status (202 when an event was queued, else 200)."""

    queued: bool
    body: dict[str, Any]


class CmActions:
    def __init__(
        self,
        capture: CaptureRepository,
        channel: CmChannelRepository,
        queue: EventQueue,
        clock: Any = time.time,
    ) -> None:
        self._capture = capture
        self._channel = channel
        self._queue = queue
        self._clock = clock

    def mark_read(self, message_id: str) -> ActionResult:
        message = self._capture.get_message(message_id)
        if message is None:
            raise NotFoundError(f"No message {message_id!r}")
        if message.get("direction") != "inbound":
            raise ConflictError("Only inbound messages can be marked as read", field="message_id")
        if message.get("channel") != "cm":
            raise ConflictError("The message did not come through CM.com", field="message_id")
        if not has_wamid(message_id):
            raise ConflictError(
                "CM.com needs the WhatsApp message id, which this message's webhook did not carry "
                "(turn on CM.com's raw payload option)",
                field="message_id",
            )
        contact_key = message.get("contact_key")
        if not isinstance(contact_key, str) or user_id_of_key(contact_key) is not None:
            raise ConflictError("The message's sender has no phone number to address the event to")
        if message.get("read_marked_at") is None:
            self._channel.request_read(message_id, int(self._clock()))
            self._queue.send(
                EventCommand(type=EventType.MARK_AS_READ, phone=contact_key, message_id=message_id)
            )
        return ActionResult(queued=True, body={"message_id": message_id, "status": "queued"})

    def block(self, identifier: str) -> ActionResult:
        key, contact = self._contact(identifier)
        if contact.get("blocked"):
            return ActionResult(queued=False, body=self._state(key, "already blocked"))
        now = int(self._clock())
        last_inbound = contact.get("last_inbound_at")
        if last_inbound is None or now - int(last_inbound) > BLOCK_WINDOW_SECONDS:
            raise ConflictError(
                "WhatsApp only allows blocking users who messaged the business in the last 24 hours; "
                f"this contact last wrote at {_iso(last_inbound)}",
                field="last_inbound_at",
            )
        return self._change(key, EventType.BLOCK, now)

    def unblock(self, identifier: str) -> ActionResult:
        key, contact = self._contact(identifier)
        if not contact.get("blocked"):
            return ActionResult(queued=False, body=self._state(key, "not blocked: nothing sent"))
        return self._change(key, EventType.UNBLOCK, int(self._clock()))

    def _change(self, key: str, event: EventType, now: int) -> ActionResult:
        generation = uuid.uuid4().hex
        blocking = event is EventType.BLOCK
        changed = (
            self._channel.block(key, now, generation)
            if blocking
            else self._channel.unblock(key, now, generation)
        )
        if not changed:  # a concurrent request changed it first
            return ActionResult(queued=False, body=self._state(key, "unchanged"))
        try:
            self._queue.send(EventCommand(type=event, phone=key, generation=generation))
        except HandoffError:
            self._channel.restore_block_state(key, generation, blocked=not blocking)
            raise
        return ActionResult(queued=True, body=self._state(key, "queued"))

    def _contact(self, identifier: str) -> tuple[str, dict[str, Any]]:
        key = find_contact_key(self._capture, identifier)
        contact = self._capture.get_contact(key) if key else None
        if key is None or contact is None:
            raise NotFoundError(f"No contact {identifier!r}")
        if user_id_of_key(key) is not None:
            raise ConflictError("CM.com addresses block events to a phone number; this contact has none")
        return key, contact

    def _state(self, key: str, status: str) -> dict[str, Any]:
        contact = self._capture.get_contact(key) or {}
        return {
            "contact": key,
            "blocked": bool(contact.get("blocked", False)),
            "blocked_at": _iso(contact.get("blocked_at")),
            "status": status,
        }


def _iso(value: Any) -> str | None:
    from ..models.events import iso_timestamp

    return iso_timestamp(int(value)) if value is not None else None
