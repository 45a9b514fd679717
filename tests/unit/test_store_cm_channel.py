"""CM.com channel state on the capture items (store.cm_channel): a message's read-marking recorded once,
and a contact's block state changed only when it changes, undone only while no later change followed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import store_tables
from tests.support.store_tables import TABLE
from wa_conversions.store.cm_channel import CmChannelRepository
from wa_conversions.store.keys import MESSAGE, PROFILE, contact_pk, message_pk

MESSAGE_ID = "e3b1c2a4-5d6f-4a8b-9c0d-1e2f3a4b5c6d"
PHONE = "31612345678"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from store_tables.moto_tables(monkeypatch, "Table")


@pytest.fixture
def channel(client: Any) -> CmChannelRepository:
    store_tables.put(client, pk=message_pk(MESSAGE_ID), sk=MESSAGE, item_type="message", channel="cm")
    store_tables.put(client, pk=contact_pk(PHONE), sk=PROFILE, item_type="contact", phone=PHONE)
    return CmChannelRepository(client, TABLE)


def message(client: Any, message_id: str = MESSAGE_ID) -> dict[str, Any] | None:
    return store_tables.stored(client, message_pk(message_id), MESSAGE)


def profile(client: Any, key: str = PHONE) -> dict[str, Any]:
    found = store_tables.stored(client, contact_pk(key), PROFILE)
    assert found is not None
    return found


def test_the_first_read_request_is_kept_and_a_repeat_changes_nothing(
    client: Any, channel: CmChannelRepository
) -> None:
    channel.request_read(MESSAGE_ID, 1_000)
    channel.request_read(MESSAGE_ID, 2_000)

    stored = message(client)
    assert stored is not None
    assert (stored["read_requested_at"], "read_marked_at" in stored) == (1_000, False)


def test_marking_read_records_when_cm_accepted_and_keeps_the_earlier_request(
    client: Any, channel: CmChannelRepository
) -> None:
    channel.request_read(MESSAGE_ID, 1_000)
    channel.mark_read(MESSAGE_ID, 1_005)
    channel.mark_read(MESSAGE_ID, 9_999)

    stored = message(client)
    assert stored is not None
    assert (stored["read_requested_at"], stored["read_marked_at"]) == (1_000, 1_005)


def test_a_message_marked_read_without_a_request_counts_as_requested_then(
    client: Any, channel: CmChannelRepository
) -> None:
    channel.mark_read(MESSAGE_ID, 1_005)

    stored = message(client)
    assert stored is not None
    assert (stored["read_requested_at"], stored["read_marked_at"]) == (1_005, 1_005)


def test_read_state_of_a_message_never_captured_leaves_no_stub(
    client: Any, channel: CmChannelRepository
) -> None:
    channel.request_read("unknown-message", 1_000)
    channel.mark_read("unknown-message", 1_000)

    assert message(client, "unknown-message") is None


def test_blocking_changes_the_contact_once_with_its_generation(
    client: Any, channel: CmChannelRepository
) -> None:
    first = channel.block(PHONE, 1_000, "gen-1")
    again = channel.block(PHONE, 1_010, "gen-2")

    stored = profile(client)
    assert (first, again) == (True, False)
    assert (stored["blocked"], stored["blocked_at"], stored["block_generation"]) == (True, 1_000, "gen-1")


def test_unblocking_a_contact_that_is_not_blocked_changes_nothing(
    client: Any, channel: CmChannelRepository
) -> None:
    assert channel.unblock(PHONE, 1_000, "gen-1") is False
    assert "blocked" not in profile(client)


def test_a_blocked_contact_is_unblocked_and_may_be_blocked_again(
    client: Any, channel: CmChannelRepository
) -> None:
    channel.block(PHONE, 1_000, "gen-1")

    unblocked = channel.unblock(PHONE, 2_000, "gen-2")
    twice = channel.unblock(PHONE, 2_001, "gen-3")
    blocked_again = channel.block(PHONE, 3_000, "gen-4")

    stored = profile(client)
    assert (unblocked, twice, blocked_again) == (True, False, True)
    assert (stored["blocked"], stored["unblocked_at"], stored["blocked_at"]) == (True, 2_000, 3_000)
    assert stored["block_generation"] == "gen-4"


def test_an_unknown_contact_is_neither_blocked_nor_given_a_profile(
    client: Any, channel: CmChannelRepository
) -> None:
    assert channel.block("31600000000", 1_000, "gen-1") is False
    assert channel.unblock("31600000000", 1_000, "gen-1") is False
    assert store_tables.stored(client, contact_pk("31600000000"), PROFILE) is None


def test_a_change_whose_event_was_not_queued_is_undone(client: Any, channel: CmChannelRepository) -> None:
    channel.block(PHONE, 1_000, "gen-1")

    channel.restore_block_state(PHONE, "gen-1", blocked=False)

    assert profile(client)["blocked"] is False


def test_an_undo_is_dropped_once_another_change_followed(client: Any, channel: CmChannelRepository) -> None:
    channel.block(PHONE, 1_000, "gen-1")
    channel.unblock(PHONE, 2_000, "gen-2")
    channel.block(PHONE, 3_000, "gen-3")

    channel.restore_block_state(PHONE, "gen-1", blocked=False)
    channel.restore_block_state(PHONE, "gen-2", blocked=True)

    stored = profile(client)
    assert (stored["blocked"], stored["block_generation"], stored["blocked_at"]) == (True, "gen-3", 3_000)
