"""The operator's CM.com actions (cm_channel.actions) over moto's table and queue: mark-as-read of an
inbound CM.com message, block within WhatsApp's 24 hours and unblock; each records the state and
queues exactly one event, refuses what CM.com cannot do, and undoes the state when queueing fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.support import store_tables
from tests.support.store_tables import TABLE
from wa_conversions.cm_channel.actions import BLOCK_WINDOW_SECONDS, CmActions, EventQueue
from wa_conversions.cm_channel.commands import EventCommand, EventType, command_from
from wa_conversions.errors import ConflictError, HandoffError, NotFoundError
from wa_conversions.models.domain import ContactRef, MessageStatus
from wa_conversions.models.events import iso_timestamp
from wa_conversions.store.capture import CaptureRepository
from wa_conversions.store.cm_channel import CmChannelRepository

PHONE = "31612345678"
USER = "US.13491208655302741918"
WAMID = "wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQTdCMjBGQjM0RjlGNEUyRkQ1QgA="
NOW = 1_772_445_600  # 2026-03-02T10:00:00Z


class World:
    """The table and the events queue, and the actions on them at a clock the test sets."""

    def __init__(self, client: Any, sqs: Any, queue_url: str) -> None:
        self.client = client
        self.sqs = sqs
        self.queue_url = queue_url
        self.capture = CaptureRepository(client, TABLE)
        self.channel = CmChannelRepository(client, TABLE)
        self.now = NOW

    def actions(self, queue_url: str | None = None) -> CmActions:
        queue = EventQueue(self.sqs, queue_url or self.queue_url)
        return CmActions(self.capture, self.channel, queue, clock=lambda: self.now)

    def contact(self, key: str = PHONE, *, last_inbound: int | None = NOW - 3600) -> None:
        ref = ContactRef(user_id=USER) if key.startswith("uid:") else ContactRef(phone=key)
        self.capture.upsert_contact(
            ref, key, first_seen=NOW - 7200, last_inbound=last_inbound, update_key="u1"
        )

    def inbound(self, message_id: str = WAMID, *, channel: str = "cm", key: str | None = PHONE) -> None:
        self.capture.record_inbound_message(
            message_id=message_id,
            contact_key=key,
            message_type="text",
            raw_type="text",
            timestamp=NOW - 60,
            channel=channel,
            phone_number_id=None,
            has_referral=False,
            expires_at=NOW + 86_400,
        )

    def queued(self) -> list[EventCommand]:
        """The commands waiting on the events queue, as the events function reads them."""
        found: list[EventCommand] = []
        while batch := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            found += [command_from(json.loads(message["Body"])) for message in batch]
        return found

    def profile(self, key: str = PHONE) -> dict[str, Any]:
        return self.capture.get_contact(key) or {}


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for client in store_tables.moto_tables(monkeypatch, "Table"):
        sqs = boto3.client("sqs", region_name="us-east-1")
        yield World(client, sqs, sqs.create_queue(QueueName="cm-events")["QueueUrl"])


# -- mark as read -----------------------------------------------------------------------------------


def test_marking_an_inbound_cm_message_read_records_the_request_and_queues_the_event(world: World) -> None:
    world.contact()
    world.inbound()

    result = world.actions().mark_read(WAMID)

    assert (result.queued, result.body) == (True, {"message_id": WAMID, "status": "queued"})
    assert world.queued() == [EventCommand(type=EventType.MARK_AS_READ, phone=PHONE, message_id=WAMID)]
    assert (world.capture.get_message(WAMID) or {}).get("read_requested_at") == NOW


def test_a_message_cm_com_already_marked_read_sends_nothing_more(world: World) -> None:
    world.contact()
    world.inbound()
    world.channel.mark_read(WAMID, NOW - 30)

    result = world.actions().mark_read(WAMID)

    assert result.body["status"] == "queued"
    assert world.queued() == []


def test_an_unknown_message_is_not_found(world: World) -> None:
    with pytest.raises(NotFoundError, match="No message"):
        world.actions().mark_read("wamid.NEVER")
    assert world.queued() == []


def test_a_message_the_business_sent_cannot_be_marked_read(world: World) -> None:
    world.capture.record_status(
        message_id=WAMID,
        status=MessageStatus.DELIVERED,
        raw_status="DELIVERED",
        timestamp=NOW - 60,
        contact_key=PHONE,
        channel="cm",
        phone_number_id=None,
        errors=(),
        conversation_id=None,
        pricing_category=None,
        expires_at=NOW + 86_400,
    )
    with pytest.raises(ConflictError, match="Only inbound messages"):
        world.actions().mark_read(WAMID)
    assert world.queued() == []


def test_a_message_that_came_through_another_provider_cannot_be_marked_through_cm(world: World) -> None:
    world.inbound(channel="meta")
    with pytest.raises(ConflictError, match=r"did not come through CM\.com"):
        world.actions().mark_read(WAMID)
    assert world.queued() == []


def test_a_message_without_its_whatsapp_id_asks_for_the_raw_payload_option(world: World) -> None:
    derived = "cm:0f3c9a1b2d4e5f60718293a4b5c6d7e8f9012345"
    world.inbound(derived)

    with pytest.raises(ConflictError, match="raw payload") as raised:
        world.actions().mark_read(derived)

    assert raised.value.field == "message_id"
    assert world.queued() == []
    assert "read_requested_at" not in (world.capture.get_message(derived) or {})


def test_a_message_from_a_sender_known_by_user_id_alone_cannot_be_addressed(world: World) -> None:
    world.inbound(key=f"uid:{USER}")
    with pytest.raises(ConflictError, match="no phone number"):
        world.actions().mark_read(WAMID)
    assert world.queued() == []


# -- block and unblock ------------------------------------------------------------------------------


@pytest.mark.parametrize("identifier", [PHONE, f"+{PHONE}"])
def test_blocking_a_contact_who_wrote_today_blocks_it_and_queues_one_block(
    world: World, identifier: str
) -> None:
    world.contact()

    result = world.actions().block(identifier)

    profile = world.profile()
    assert result.queued is True
    assert result.body == {
        "contact": PHONE,
        "blocked": True,
        "blocked_at": iso_timestamp(NOW),
        "status": "queued",
    }
    assert world.queued() == [
        EventCommand(type=EventType.BLOCK, phone=PHONE, generation=profile["block_generation"])
    ]


def test_a_contact_who_wrote_just_within_24_hours_can_be_blocked(world: World) -> None:
    world.contact(last_inbound=NOW - BLOCK_WINDOW_SECONDS)
    assert world.actions().block(PHONE).queued is True
    assert world.profile()["blocked"] is True


@pytest.mark.parametrize("last_inbound", [NOW - BLOCK_WINDOW_SECONDS - 1, None])
def test_a_contact_silent_for_more_than_24_hours_cannot_be_blocked(
    world: World, last_inbound: int | None
) -> None:
    world.contact(last_inbound=last_inbound)

    with pytest.raises(ConflictError, match="last 24 hours") as raised:
        world.actions().block(PHONE)

    assert raised.value.field == "last_inbound_at"
    assert world.profile().get("blocked", False) is False
    assert world.queued() == []


def test_blocking_a_blocked_contact_sends_nothing(world: World) -> None:
    world.contact()
    world.actions().block(PHONE)
    world.queued()
    world.now += 60

    result = world.actions().block(PHONE)

    assert (result.queued, result.body["status"], result.body["blocked_at"]) == (
        False,
        "already blocked",
        iso_timestamp(NOW),
    )
    assert world.queued() == []


def test_unblocking_a_blocked_contact_unblocks_it_and_queues_one_unblock(world: World) -> None:
    world.contact()
    world.actions().block(PHONE)
    [block] = world.queued()

    result = world.actions().unblock(PHONE)

    [unblock] = world.queued()
    assert (result.queued, result.body["blocked"], result.body["status"]) == (True, False, "queued")
    assert world.profile()["blocked"] is False
    assert unblock.type is EventType.UNBLOCK
    assert unblock.generation == world.profile()["block_generation"] != block.generation


def test_unblocking_a_contact_that_is_not_blocked_sends_nothing(world: World) -> None:
    world.contact()

    result = world.actions().unblock(PHONE)

    assert (result.queued, result.body["status"]) == (False, "not blocked: nothing sent")
    assert world.queued() == []


def test_block_unblock_block_is_three_distinct_events(world: World) -> None:
    world.contact()
    actions = world.actions()
    actions.block(PHONE)
    actions.unblock(PHONE)
    actions.block(PHONE)

    events = world.queued()

    assert sorted(event.type.value for event in events) == ["Block", "Block", "UnBlock"]
    assert len({event.event_id for event in events}) == 3


def test_a_block_that_cannot_be_queued_is_undone_and_the_caller_told_to_retry(world: World) -> None:
    world.contact()
    missing = world.queue_url.rsplit("/", 1)[0] + "/no-such-queue"

    with pytest.raises(HandoffError, match=r"Could not queue the CM\.com event"):
        world.actions(queue_url=missing).block(PHONE)

    assert world.profile()["blocked"] is False
    assert world.actions().block(PHONE).queued is True


def test_an_unblock_that_cannot_be_queued_leaves_the_contact_blocked(world: World) -> None:
    world.contact()
    world.actions().block(PHONE)
    missing = world.queue_url.rsplit("/", 1)[0] + "/no-such-queue"

    with pytest.raises(HandoffError):
        world.actions(queue_url=missing).unblock(PHONE)

    assert world.profile()["blocked"] is True


def test_an_unknown_contact_is_not_found(world: World) -> None:
    with pytest.raises(NotFoundError, match="No contact"):
        world.actions().block("16505550000")


def test_a_contact_known_by_user_id_alone_cannot_be_blocked_through_cm(world: World) -> None:
    world.contact(f"uid:{USER}")
    with pytest.raises(ConflictError, match="phone number"):
        world.actions().block(USER)
    assert world.queued() == []
