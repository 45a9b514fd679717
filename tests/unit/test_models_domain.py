"""The domain's shared vocabulary: values a provider adds later read as UNKNOWN, a status only moves
forward, and a contact is keyed and published by its phone, else by its user id."""

from __future__ import annotations

import pytest

from wa_conversions.models.domain import (
    Channel,
    ContactRef,
    Direction,
    MessageStatus,
    MessageType,
    user_contact_key,
    user_id_of_key,
)

USER_ID = "US.13491208655302741918"


@pytest.mark.parametrize("raw", ["poll", "ephemeral", "", "TEXT"])
def test_a_message_type_nobody_knows_yet_is_unknown_not_an_error(raw: str) -> None:
    assert MessageType(raw) is MessageType.UNKNOWN


@pytest.mark.parametrize("raw", ["deleted", "warning", "Delivered"])
def test_a_status_nobody_knows_yet_is_unknown_not_an_error(raw: str) -> None:
    assert MessageStatus(raw) is MessageStatus.UNKNOWN


def test_known_values_read_as_themselves() -> None:
    assert MessageType("request_welcome") is MessageType.REQUEST_WELCOME
    assert MessageStatus("played") is MessageStatus.PLAYED


def test_the_channels_and_directions_refuse_what_they_do_not_name() -> None:
    # not tolerant: a channel or a direction is ours to set, never a provider's
    with pytest.raises(ValueError, match="'whatsapp' is not a valid Channel"):
        Channel("whatsapp")
    with pytest.raises(ValueError, match="'sideways' is not a valid Direction"):
        Direction("sideways")


def test_a_message_s_lifecycle_ranks_in_the_order_statuses_arrive() -> None:
    lifecycle = ["received", "sent", "delivered", "read", "played", "failed"]
    ranks = [MessageStatus(s).rank for s in lifecycle]
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks)


def test_a_failed_send_outranks_every_late_status_and_unknown_ranks_lowest() -> None:
    others = [s for s in MessageStatus if s is not MessageStatus.FAILED]
    assert all(MessageStatus.FAILED.rank > s.rank for s in others)
    assert MessageStatus.UNKNOWN.rank == min(s.rank for s in MessageStatus)
    assert MessageStatus("not-yet-known").rank < MessageStatus.SENT.rank


def test_a_user_id_key_reads_back_its_user_id_and_a_phone_key_none() -> None:
    key = user_contact_key(USER_ID)
    assert key == f"uid:{USER_ID}"
    assert user_id_of_key(key) == USER_ID
    assert user_id_of_key("16505551234") is None
    assert user_id_of_key("uid:") == ""


def test_a_contact_with_a_phone_is_keyed_and_published_by_its_phone() -> None:
    contact = ContactRef(phone="16505551234", user_id=USER_ID, name="Sheena Nelson")
    assert contact.key == "16505551234"
    assert contact.public_id == "+16505551234"


def test_a_contact_known_only_by_user_id_is_keyed_and_published_by_it() -> None:
    contact = ContactRef(user_id=USER_ID, username="sheena")
    assert contact.key == f"uid:{USER_ID}"
    assert user_id_of_key(contact.key) == USER_ID
    assert contact.public_id == USER_ID


@pytest.mark.parametrize("contact", [ContactRef(), ContactRef(name="Anon", username="anon")])
def test_a_contact_without_either_identifier_has_no_key_and_no_public_id(contact: ContactRef) -> None:
    assert (contact.key, contact.public_id) == (None, None)


def test_empty_identifiers_make_no_key() -> None:
    assert ContactRef(phone="", user_id="").key is None
