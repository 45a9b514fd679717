"""What travels on the CM events queue, and the request CM.com's events endpoint takes.

Two kinds of queue message arrive: commands the actions API queues, and `message.received` events
the bus routes there when auto mark-as-read is on. Both become one EventCommand. Its `event_id` is
the at-most-once key in the delivery log: one MarkAsRead per message ever, and one Block or UnBlock
per state change of a contact (the change's generation), so a retried or redelivered message is
never sent twice, while blocking again after an unblock is a new event.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..models.events import EventName
from ..providers.cm_format import DERIVED_ID_PREFIX, cm_number, international_digits

COMMAND_KIND = "cm_event"
MESSAGE_RECEIVED = EventName.MESSAGE_RECEIVED


class EventType(StrEnum):
    # CM.com's spelling on its events page (docs/cm.md#outbound-events): "MarkAsRead", "Block", "UnBlock".
    MARK_AS_READ = "MarkAsRead"
    BLOCK = "Block"
    UNBLOCK = "UnBlock"


class EventCommand(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: str = COMMAND_KIND
    type: EventType
    phone: str = Field(min_length=4, description="the end user, E.164 digits")
    message_id: str | None = None  # MarkAsRead: the wamid
    generation: str | None = None  # Block/UnBlock: the state change this is

    @property
    def event_id(self) -> str:
        if self.type is EventType.MARK_AS_READ:
            return f"cm-event:MarkAsRead:{self.message_id}"
        return f"cm-event:{self.type.value}:{self.phone}:{self.generation}"

    def request_body(self, business_number: str) -> dict[str, Any]:
        event: dict[str, Any] = {"type": self.type.value}
        if self.type is EventType.MARK_AS_READ:
            event["custom"] = {"message_id": self.message_id}
        # from = the business, to = the end user, as CM.com's block example annotates them.
        return {
            "channel": "WhatsApp",
            "event": event,
            "from": {"number": cm_number(business_number)},
            "to": {"number": cm_number(self.phone)},
        }


class CommandError(ValueError):
    """A queue message that is neither a command nor a message.received event."""


class NotMarkable(ValueError):
    """A message.received event for a message CM.com cannot mark (no wamid known)."""


def has_wamid(message_id: str) -> bool:
    """CM messages without the raw payload are keyed on a digest: CM.com needs the wamid to mark it."""
    return not message_id.startswith(DERIVED_ID_PREFIX)


def command_from(document: Any) -> EventCommand:
    if isinstance(document, dict) and document.get("detail-type") == MESSAGE_RECEIVED:
        return _from_bus_event(document)
    if isinstance(document, dict) and document.get("kind") == COMMAND_KIND:
        try:
            command = EventCommand.model_validate(document)
        except ValidationError as error:
            raise CommandError(f"Not a valid CM event command: {error.errors()[0]['msg']}") from None
        if command.type is EventType.MARK_AS_READ and not command.message_id:
            raise CommandError("MarkAsRead needs message_id")
        if command.type is not EventType.MARK_AS_READ and not command.generation:
            raise CommandError(f"{command.type.value} needs generation")
        return command
    raise CommandError("Neither a CM event command nor a message.received event")


def _from_bus_event(document: dict[str, Any]) -> EventCommand:
    detail = document.get("detail") or {}
    properties = detail.get("properties") or {}
    message_id = properties.get("messageId")
    user_id = detail.get("userId")
    if not isinstance(message_id, str) or not message_id or not isinstance(user_id, str) or not user_id:
        raise CommandError("message.received event without messageId or a phone userId")
    if not has_wamid(message_id):
        raise NotMarkable(f"message {message_id} has no WhatsApp message id (CM raw payload is off)")
    # userId is "+<E.164>" or, when no phone is known, the business-scoped user id (models.events):
    # a user id's digits are no number, and a MarkAsRead to them would reach a stranger.
    phone = international_digits(user_id) if user_id.startswith(("+", "00")) else None
    if phone is None:
        raise NotMarkable(f"message {message_id}'s sender has no phone number CM.com can address")
    return EventCommand(type=EventType.MARK_AS_READ, phone=phone, message_id=message_id)
