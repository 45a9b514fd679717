"""Meta's webhook as domain updates (providers.meta): the cases test_meta_parsing.py leaves out, the
number a user shares on request, whose contact an update is, number changes, errors and history stages."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import webhooks as wh
from wa_conversions.models.domain import ContactRef, InboundMessage, MessageStatus, StatusUpdate, Update
from wa_conversions.providers.meta import CONTACT_REQUEST, normalize, parse_webhook

PHONE = "16505551234"
USER = "US.13491208655302741918"
T = 1_750_000_000


def read(*values: dict[str, Any], field: str = "messages") -> list[Update]:
    return normalize(parse_webhook(wh.encode(wh.webhook(*values, field=field))))


def one_inbound(value: dict[str, Any]) -> InboundMessage:
    [update] = read(value)
    assert isinstance(update, InboundMessage)
    return update


def shared_card(phones: list[dict[str, str]], origin: str | None = CONTACT_REQUEST) -> dict[str, Any]:
    card: dict[str, Any] = {"name": {"formatted_name": "Ana"}, "phones": phones}
    if origin:
        card["origin"] = origin
    return card


def from_user(message_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": message_id, "timestamp": str(T), "from_user_id": USER, **extra}


# -- a number shared on request ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [{"wa_id": PHONE, "phone": "+1 650-555-1234"}, {"phone": "+1 650-555-1234"}, {"phone": f" {PHONE} "}],
)
def test_a_user_known_by_id_gets_the_number_it_sent_on_request(phone: dict[str, str]) -> None:
    message = from_user("wamid.c", type="contacts", contacts=[shared_card([phone])])
    found = one_inbound({"contacts": [wh.contact(user_id=USER)], "messages": [message]})
    assert (found.contact.phone, found.contact.user_id) == (PHONE, USER)
    assert found.contact.phone_source == CONTACT_REQUEST


def test_the_request_may_be_named_on_the_message_rather_than_the_card() -> None:
    message = from_user(
        "wamid.c", type="contacts", origin=CONTACT_REQUEST, contacts=[shared_card([{"wa_id": PHONE}], None)]
    )
    assert one_inbound({"messages": [message]}).contact.phone == PHONE


@pytest.mark.parametrize(
    "card",
    [
        shared_card([{"wa_id": PHONE}], origin=None),  # a card merely shared may be anyone's
        shared_card([{"phone": "(650) 555-1234"}]),  # national: no country to read it with
        shared_card([]),
    ],
)
def test_other_cards_give_no_number(card: dict[str, Any]) -> None:
    found = one_inbound({"messages": [from_user("wamid.c", type="contacts", contacts=[card])]})
    assert (found.contact.phone, found.contact.phone_source) == (None, None)


def test_a_sender_with_a_number_keeps_it_whatever_card_it_sends() -> None:
    message = wh.text_message(
        "wamid.c", PHONE, T, type="contacts", contacts=[shared_card([{"wa_id": "447700900123"}])]
    )
    found = one_inbound({"messages": [message]})
    assert (found.contact.phone, found.contact.phone_source) == (PHONE, None)


# -- whose contact an update is ---------------------------------------------------------------------------


def test_an_update_naming_another_number_than_the_lone_contact_keeps_its_own_and_the_profile() -> None:
    found = one_inbound(
        {
            "contacts": [wh.contact(PHONE, name="Sheena", user_id=USER)],
            "messages": [wh.text_message("m", "447700900123", T)],
        }
    )
    assert (found.contact.phone, found.contact.user_id, found.contact.name) == (
        "447700900123",
        USER,
        "Sheena",
    )


def test_among_several_contacts_each_update_finds_its_own_by_phone_or_user_id() -> None:
    contacts = [wh.contact(PHONE, name="Sheena"), wh.contact(name="Ana", user_id=USER)]
    messages = [
        wh.text_message("m1", PHONE, T),
        from_user("m2", type="text", text={"body": "hi"}),
        wh.text_message("m3", "447700900123", T),
    ]
    first, second, third = read({"contacts": contacts, "messages": messages})
    assert isinstance(first, InboundMessage) and first.contact.name == "Sheena"
    assert isinstance(second, InboundMessage) and (second.contact.name, second.contact.user_id) == (
        "Ana",
        USER,
    )
    # nobody listed: the update's own number, without a profile
    assert isinstance(third, InboundMessage) and third.contact == ContactRef(phone="447700900123")


def test_a_message_naming_nobody_has_an_empty_contact_and_a_status_none() -> None:
    message, status = read(
        {
            "messages": [{"id": "m", "timestamp": str(T), "type": "text"}],
            "statuses": [{"id": "s", "status": "sent", "timestamp": str(T)}],
        }
    )
    assert isinstance(message, InboundMessage) and message.contact == ContactRef()
    assert isinstance(status, StatusUpdate) and status.contact is None


def test_a_status_to_a_user_known_by_id_finds_its_profile() -> None:
    status = {"id": "s", "status": "read", "timestamp": str(T), "recipient_user_id": USER}
    [update] = read({"contacts": [wh.contact(name="Ana", user_id=USER)], "statuses": [status]})
    assert isinstance(update, StatusUpdate) and update.contact is not None
    assert (update.contact.user_id, update.contact.name, update.status) == (USER, "Ana", MessageStatus.READ)


# -- statuses ---------------------------------------------------------------------------------------


def test_a_failed_status_keeps_each_error_with_its_details() -> None:
    errors = [
        {
            "code": 131047,
            "title": "Re-engagement message",
            "message": "Re-engagement message",
            "error_data": {"details": "More than 24 hours"},
        },
        {"code": 131026, "title": "Message undeliverable"},
    ]
    [update] = read({"statuses": [wh.status("s", "failed", T, PHONE, errors=errors)]})
    assert isinstance(update, StatusUpdate)
    assert [(e.code, e.title, e.details) for e in update.errors] == [
        (131047, "Re-engagement message", "More than 24 hours"),
        (131026, "Message undeliverable", None),
    ]
    assert update.status is MessageStatus.FAILED


def test_an_empty_referral_is_still_an_ad_click() -> None:
    found = one_inbound({"messages": [wh.text_message("m", PHONE, T, referral={})]})
    assert found.referral is not None and found.referral.ctwa_clid is None


def test_a_text_without_a_body_has_no_text() -> None:
    found = one_inbound({"messages": [wh.text_message("m", PHONE, T, body="")]})
    assert (found.text, found.text_length) == (None, None)


# -- number changes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "system",
    [
        {"type": "customer_changed_number", "new_wa_id": "16505559876"},
        {"type": "user_changed_number", "wa_id": "+1 650 555 9876", "user_id": "US.new"},
    ],
)
def test_either_name_of_a_number_change_names_the_new_number(system: dict[str, str]) -> None:
    message = wh.text_message("m", PHONE, T, type="system", system={"body": "changed", **system})
    found = one_inbound({"messages": [message]})
    assert found.moved_to is not None and found.moved_to.phone == "16505559876"
    assert found.moved_to.user_id == system.get("user_id")


def test_a_number_change_naming_no_new_number_moves_nobody() -> None:
    message = wh.text_message("m", PHONE, T, type="system", system={"type": "user_changed_number"})
    assert one_inbound({"messages": [message]}).moved_to is None


def test_only_a_system_message_can_move_a_contact() -> None:
    message = wh.text_message("m", PHONE, T, system={"type": "user_changed_number", "wa_id": "16505559876"})
    assert one_inbound({"messages": [message]}).moved_to is None


# -- the chat history -------------------------------------------------------------------------------


def history(status: str | None, thread_id: str | None = PHONE) -> list[Update]:
    sent: dict[str, Any] = {
        "from": "15550783881",
        "to": PHONE,
        "id": "wamid.out",
        "timestamp": str(T),
        "type": "text",
    }
    if status is not None:
        sent["history_context"] = {"status": status}
    thread: dict[str, Any] = {"messages": [sent]}
    if thread_id:
        thread["id"] = thread_id
    return read({"history": [{"threads": [thread]}]}, field="history")


@pytest.mark.parametrize(
    ("status", "stages"),
    [
        (None, ["sent"]),
        ("PENDING", ["sent"]),
        ("DELIVERED", ["sent", "delivered"]),
        ("played", ["sent", "delivered", "read"]),
        ("ERROR", ["sent", "failed"]),
        ("failed", ["sent", "failed"]),
    ],
)
def test_a_past_message_s_history_status_gives_the_stages_it_implies(
    status: str | None, stages: list[str]
) -> None:
    found = history(status)
    assert [u.idempotency_key for u in found] == [f"status:wamid.out:{s}" for s in stages]
    assert all(isinstance(u, StatusUpdate) and u.backfill and u.service_mode == "app" for u in found)


def test_a_thread_without_an_id_goes_to_the_number_the_message_was_sent_to() -> None:
    [update] = history(None, thread_id=None)
    assert isinstance(update, StatusUpdate) and update.contact == ContactRef(phone=PHONE)


def test_an_echo_to_a_listed_contact_carries_its_profile() -> None:
    echo = {"from": "15550783881", "to": PHONE, "id": "wamid.e", "timestamp": str(T), "type": "text"}
    [update] = read(
        {"contacts": [wh.contact(PHONE, name="Sheena")], "message_echoes": [echo]}, field="smb_message_echoes"
    )
    assert isinstance(update, StatusUpdate) and update.contact is not None
    assert (update.contact.name, update.backfill) == ("Sheena", False)
