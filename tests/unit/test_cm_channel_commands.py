"""What travels on the CM events queue (cm_channel.commands): the commands the actions API queues and
the message.received events auto mark-as-read routes there both become one EventCommand; its event_id
is one MarkAsRead per message and one Block/UnBlock per state change; and the request CM.com gets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wa_conversions.cm_channel.commands import (
    CommandError,
    EventCommand,
    EventType,
    NotMarkable,
    command_from,
    has_wamid,
)

PHONE = "31612345678"
BUSINESS = "31698765432"
WAMID = "wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQTdCMjBGQjM0RjlGNEUyRkQ1QgA="


def on_the_queue(command: EventCommand) -> Any:
    """The command as the events function reads it back from SQS."""
    return json.loads(command.model_dump_json())


def message_received(user_id: str | None, message_id: str | None) -> dict[str, Any]:
    """A message.received event as the bus routes it to the events queue (capture.events)."""
    properties = {"contactKey": PHONE, "direction": "inbound", "contentType": "text"}
    if message_id is not None:
        properties["messageId"] = message_id
    return {
        "version": "0",
        "source": "wa-conversions",
        "detail-type": "message.received",
        "detail": {
            "type": "track",
            "event": "message.received",
            "userId": user_id,
            "context": {"channel": "whatsapp", "provider": "cm"},
            "properties": properties,
        },
    }


# -- commands the actions API queues ----------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        EventCommand(type=EventType.MARK_AS_READ, phone=PHONE, message_id=WAMID),
        EventCommand(type=EventType.BLOCK, phone=PHONE, generation="g-1"),
        EventCommand(type=EventType.UNBLOCK, phone=PHONE, generation="g-2"),
    ],
)
def test_a_queued_command_reads_back_as_the_same_command(command: EventCommand) -> None:
    assert command_from(on_the_queue(command)) == command


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"kind": "cm_event", "type": "MarkAsRead", "phone": PHONE}, "MarkAsRead needs message_id"),
        ({"kind": "cm_event", "type": "Block", "phone": PHONE}, "Block needs generation"),
        (
            {"kind": "cm_event", "type": "UnBlock", "phone": PHONE, "generation": ""},
            "UnBlock needs generation",
        ),
        ({"kind": "cm_event", "type": "Typing", "phone": PHONE, "generation": "g"}, "Not a valid CM event"),
        ({"kind": "cm_event", "type": "Block", "phone": "31", "generation": "g"}, "Not a valid CM event"),
    ],
)
def test_a_command_missing_what_its_event_needs_is_refused(document: dict[str, Any], reason: str) -> None:
    with pytest.raises(CommandError, match=reason):
        command_from(document)


@pytest.mark.parametrize(
    "document",
    [
        {"kind": "meta_capi", "type": "Block", "phone": PHONE, "generation": "g"},
        {"detail-type": "message.sent", "detail": {"userId": f"+{PHONE}"}},
        [{"kind": "cm_event"}],
        "MarkAsRead",
    ],
)
def test_anything_else_on_the_queue_is_refused(document: Any) -> None:
    with pytest.raises(CommandError, match=r"Neither a CM event command nor a message\.received event"):
        command_from(document)


# -- message.received events (auto mark-as-read) ----------------------------------------------------


@pytest.mark.parametrize("user_id", [f"+{PHONE}", f"00{PHONE}"])
def test_a_received_message_becomes_a_mark_as_read_to_its_sender(user_id: str) -> None:
    command = command_from(message_received(user_id, WAMID))

    assert command == EventCommand(type=EventType.MARK_AS_READ, phone=PHONE, message_id=WAMID)


def test_a_received_message_without_a_whatsapp_id_is_not_markable() -> None:
    with pytest.raises(NotMarkable, match="raw payload is off"):
        command_from(message_received(f"+{PHONE}", "cm:0f3c9a1b2d4e5f60718293a4b5c6d7e8f9012345"))


@pytest.mark.parametrize(("user_id", "message_id"), [(f"+{PHONE}", None), (None, WAMID), ("", WAMID)])
def test_a_received_message_without_its_id_or_sender_is_refused(
    user_id: str | None, message_id: str | None
) -> None:
    with pytest.raises(CommandError, match="without messageId or a phone userId"):
        command_from(message_received(user_id, message_id))


@pytest.mark.parametrize("user_id", ["US.13491208655302741918", "13491208655302741918"])
def test_a_received_message_from_a_contact_known_only_by_user_id_is_not_markable(user_id: str) -> None:
    # The envelope's userId is "+<E.164>" or, with no phone known, the business-scoped user id: its
    # digits are no number, and a MarkAsRead to them would go to whoever holds that number.
    with pytest.raises(NotMarkable, match="no phone number"):
        command_from(message_received(user_id, WAMID))


def test_a_derived_message_id_has_no_wamid_and_a_whatsapp_one_has() -> None:
    assert (has_wamid(WAMID), has_wamid("cm:0f3c9a1b2d4e")) == (True, False)


# -- at most once ---------------------------------------------------------------------------------


def test_marking_the_same_message_read_twice_is_one_event() -> None:
    operator = EventCommand(type=EventType.MARK_AS_READ, phone=PHONE, message_id=WAMID)
    automatic = command_from(message_received(f"+{PHONE}", WAMID))
    other = EventCommand(type=EventType.MARK_AS_READ, phone=PHONE, message_id="wamid.OTHER")

    assert operator.event_id == automatic.event_id
    assert other.event_id != operator.event_id


def test_each_block_state_change_is_its_own_event() -> None:
    block = EventCommand(type=EventType.BLOCK, phone=PHONE, generation="g-1")
    unblock = EventCommand(type=EventType.UNBLOCK, phone=PHONE, generation="g-2")
    block_again = EventCommand(type=EventType.BLOCK, phone=PHONE, generation="g-3")
    redelivered = command_from(on_the_queue(block))

    assert len({block.event_id, unblock.event_id, block_again.event_id}) == 3
    assert redelivered.event_id == block.event_id


def test_the_same_generation_for_another_contact_is_another_event() -> None:
    ours = EventCommand(type=EventType.BLOCK, phone=PHONE, generation="g-1")
    theirs = EventCommand(type=EventType.BLOCK, phone="16505551234", generation="g-1")
    assert ours.event_id != theirs.event_id


# -- the request CM.com gets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "spelled"), [(EventType.BLOCK, "Block"), (EventType.UNBLOCK, "UnBlock")]
)
def test_a_block_request_names_the_business_as_sender_and_the_user_as_recipient(
    event_type: EventType, spelled: str
) -> None:
    body = EventCommand(type=event_type, phone=PHONE, generation="g-1").request_body(f"+{BUSINESS}")

    assert body == {
        "channel": "WhatsApp",
        "event": {"type": spelled},
        "from": {"number": f"00{BUSINESS}"},
        "to": {"number": f"00{PHONE}"},
    }


def test_a_mark_as_read_request_names_the_message() -> None:
    body = EventCommand(type=EventType.MARK_AS_READ, phone=PHONE, message_id=WAMID).request_body(BUSINESS)
    assert body["event"] == {"type": "MarkAsRead", "custom": {"message_id": WAMID}}
