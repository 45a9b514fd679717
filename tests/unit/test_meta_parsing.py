"""Meta's webhook format, from raw bytes to domain updates, driven by the docs' sample payloads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.support import webhooks as wh
from wa_conversions.models.domain import (
    AutomaticEvent,
    InboundMessage,
    MessageStatus,
    MessageType,
    StatusUpdate,
)
from wa_conversions.providers.meta import normalize, parse_webhook, salvage


def updates_of(body: bytes):
    return normalize(parse_webhook(body))


SAMPLES = {
    "meta_docs_text_message_ctwa_referral.json": (
        InboundMessage,
        "msg:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUQ0N0VFMDA2MTQ0RkJFNkNDNAA=",
    ),
    "meta_docs_status_sent_with_pricing.json": (
        StatusUpdate,
        "status:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=:sent",
    ),
    "meta_docs_automatic_events_purchase.json": (
        AutomaticEvent,
        "auto:wamid.HBgLMTIwNjY3NzQ3OTgVAgARGBIwRkU4NDI5Nzk3RjZDMzE2RUMA:Purchase",
    ),
}


@pytest.mark.parametrize(("sample", "expected"), SAMPLES.items())
def test_each_sample_becomes_one_update_with_a_business_key(sample: str, expected: tuple[type, str]) -> None:
    [update] = updates_of(wh.sample(sample))
    kind, key = expected
    assert isinstance(update, kind)
    assert update.idempotency_key == key
    assert update.account.waba_id == "102290129340398"
    assert update.account.phone_number_id == "106540352242922"


def test_referral_message_carries_the_ad_click_and_contact() -> None:
    [message] = updates_of(wh.sample("meta_docs_text_message_ctwa_referral.json"))
    assert isinstance(message, InboundMessage)
    assert message.contact.phone == "16505551234"
    assert message.contact.name == "Sheena Nelson"
    assert message.type is MessageType.TEXT
    assert message.timestamp == 1750275992
    assert message.referral is not None
    assert message.referral.source_id == "120226305854810726"
    assert message.referral.ctwa_clid is not None and message.referral.ctwa_clid.startswith("Aff-n8ZT")
    assert message.referral.media_type == "image"


def test_sent_status_carries_pricing_and_recipient() -> None:
    [status] = updates_of(wh.sample("meta_docs_status_sent_with_pricing.json"))
    assert isinstance(status, StatusUpdate)
    assert status.status is MessageStatus.SENT
    assert status.contact is not None and status.contact.phone == "16505551234"
    assert status.pricing_category == "marketing"
    assert status.conversation_id == "72b14d6bd5407799e66f64d1b338e567"


def test_automatic_event_keeps_custom_data() -> None:
    [event] = updates_of(wh.sample("meta_docs_automatic_events_purchase.json"))
    assert isinstance(event, AutomaticEvent)
    assert event.event_name == "Purchase"
    assert event.custom_data == {"currency": "USD", "value": 25000}


def test_every_entry_change_and_update_is_read() -> None:
    document = wh.webhook(
        {
            "contacts": [wh.contact("1")],
            "messages": [wh.text_message("m1", "1", 1), wh.text_message("m2", "1", 2)],
        },
        {"statuses": [wh.status("s1", "sent", 3, "2"), wh.status("s1", "read", 4, "2")]},
    )
    document["entry"].append(
        wh.webhook({"contacts": [wh.contact("3")], "messages": [wh.text_message("m3", "3", 5)]})["entry"][0]
    )
    keys = [u.idempotency_key for u in updates_of(wh.encode(document))]
    assert keys == ["msg:m1", "msg:m2", "status:s1:sent", "status:s1:read", "msg:m3"]


def test_unknown_type_status_and_fields_are_tolerated() -> None:
    document = wh.webhook(
        {
            "contacts": [wh.contact("1")],
            "messages": [{"id": "m", "from": "1", "timestamp": "1", "type": "hologram", "future": {"x": 1}}],
            "statuses": [wh.status("s", "teleported", 2, "1")],
            "unheard_of": [1, 2],
        }
    )
    message, status = updates_of(wh.encode(document))
    assert isinstance(message, InboundMessage) and message.type is MessageType.UNKNOWN
    assert message.raw_type == "hologram"
    assert isinstance(status, StatusUpdate) and status.status is MessageStatus.UNKNOWN
    assert status.raw_status == "teleported"


def test_contact_with_only_a_user_id() -> None:
    document = wh.webhook(
        {
            "contacts": [
                {
                    "profile": {"name": "Ana", "username": "ana.b"},
                    "user_id": "US.1",
                    "parent_user_id": "US.P1",
                }
            ],
            "messages": [wh.text_message("m", None, 1, from_user_id="US.1")],
        }
    )
    [message] = updates_of(wh.encode(document))
    assert isinstance(message, InboundMessage)
    assert message.contact.phone is None
    assert message.contact.key == "uid:US.1"
    assert message.contact.public_id == "US.1"
    assert message.contact.parent_user_id == "US.P1"
    assert message.contact.username == "ana.b"


def test_plus_prefixed_sender_is_normalised_to_digits() -> None:
    document = wh.webhook(
        {"contacts": [wh.contact("16505551234")], "messages": [wh.text_message("m", "+16505551234", 1)]}
    )
    [message] = updates_of(wh.encode(document))
    assert isinstance(message, InboundMessage)
    assert message.contact.phone == "16505551234"
    assert message.contact.name == "Test User"


def test_group_status_has_no_contact() -> None:
    document = wh.webhook(
        {"statuses": [wh.status("s", "sent", 1, "120363040000000000", recipient_type="group")]}
    )
    [status] = updates_of(wh.encode(document))
    assert isinstance(status, StatusUpdate) and status.contact is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"object": "whatsapp_business_account"}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": []}]}',
        wh.encode(wh.webhook({"messages": [{"from": "1"}]})),
    ],
)
def test_structurally_broken_webhooks_are_rejected(body: bytes) -> None:
    with pytest.raises(ValidationError):
        parse_webhook(body)


def test_salvage_keeps_the_updates_that_validate_on_their_own() -> None:
    document = wh.webhook(
        {
            "contacts": [wh.contact("1")],
            "messages": [wh.text_message("ok", "1", 1), {"id": "no-time", "from": "1"}],
            "statuses": [{"status": "sent"}],
        }
    )
    salvaged = salvage(wh.encode(document))
    assert salvaged is not None
    assert [u.idempotency_key for u in normalize(salvaged.valid)] == ["msg:ok"]
    rejected = salvaged.rejected["entry"][0]["changes"][0]["value"]
    assert rejected["messages"] == [{"id": "no-time", "from": "1"}]
    assert rejected["statuses"] == [{"status": "sent"}]
    assert salvaged.reasons == ("messages[1].timestamp: Field required", "statuses[0].id: Field required")


@pytest.mark.parametrize(
    "body",
    [
        b"{nope",
        b'{"object": "whatsapp_business_account", "entry": [1]}',
        wh.encode(wh.webhook({"contacts": "not a list", "messages": [wh.text_message("m", "1", 1)]})),
    ],
)
def test_salvage_gives_up_when_what_surrounds_the_updates_is_broken(body: bytes) -> None:
    assert salvage(body) is None


@pytest.mark.parametrize(
    "sample",
    ["meta_docs_calls_connect.json", "meta_docs_calls_status_ringing.json", "meta_docs_calls_terminate.json"],
)
def test_calls_webhooks_are_no_message_updates(sample: str) -> None:
    # A call's status has the shape of a message status (id, status, recipient_id): only the change's
    # field tells them apart, and a call is not a message.
    assert updates_of(wh.sample(sample)) == []


def test_only_the_fields_the_product_reads_become_updates() -> None:
    call_status = wh.status("wacid.C1", "RINGING", 1750000000, "16315553601", type="call")
    document = wh.webhook(
        {"contacts": [wh.contact("1")], "messages": [wh.text_message("m", "1", 1)]},
        {"statuses": [call_status]},
        field="calls",
    )
    document["entry"][0]["changes"][0]["field"] = "messages"
    assert [u.idempotency_key for u in updates_of(wh.encode(document))] == ["msg:m"]
    salvaged = salvage(
        wh.encode(wh.webhook({"statuses": [{**call_status, "id": "x" * 3000}]}, field="calls"))
    )
    assert salvaged is not None and salvaged.reasons == () and normalize(salvaged.valid) == []


LONG_ID = "wamid." + "A" * 3000
LONG_PHONE = "1" * 5000
LONG_CLID = "Aff" + "b" * 5000


@pytest.mark.parametrize(
    ("update", "where"),
    [
        ({"messages": [wh.text_message(LONG_ID, "1", 1)]}, "messages[0].id"),
        ({"messages": [wh.text_message("m", LONG_PHONE, 1)]}, "messages[0].from"),
        (
            {"messages": [wh.text_message("m", "1", 1, referral={"ctwa_clid": LONG_CLID})]},
            "messages[0].referral.ctwa_clid",
        ),
        ({"statuses": [wh.status(LONG_ID, "sent", 1, "1")]}, "statuses[0].id"),
        ({"statuses": [wh.status("s", "x" * 3000, 1, "1")]}, "statuses[0].status"),
        ({"statuses": [wh.status("s", "sent", 10**40, "1")]}, "statuses[0].timestamp"),
    ],
)
def test_ids_too_long_for_a_key_are_refused_at_the_boundary(update: dict, where: str) -> None:  # type: ignore[type-arg]
    good = wh.text_message("wamid.fine", "1", 1)
    value = {"contacts": [wh.contact("1")], **update}
    value["messages"] = [good, *value.get("messages", [])]
    with pytest.raises(ValidationError):
        parse_webhook(wh.encode(wh.webhook(value)))
    salvaged = salvage(wh.encode(wh.webhook(value)))
    assert salvaged is not None
    assert [u.idempotency_key for u in normalize(salvaged.valid)] == ["msg:wamid.fine"]
    [reason] = salvaged.reasons
    index = where.split("[", 1)[1].split("]", 1)[0]
    expected = where.replace(f"[{index}]", f"[{int(index) + 1}]") if where.startswith("messages") else where
    assert reason.startswith(f"{expected}:")


def test_a_contact_whose_wa_id_is_too_long_is_refused() -> None:
    document = wh.webhook({"contacts": [wh.contact(LONG_PHONE)], "messages": [wh.text_message("m", "1", 1)]})
    with pytest.raises(ValidationError):
        parse_webhook(wh.encode(document))
    assert salvage(wh.encode(document)) is None  # the contacts are shared by every update of the change


def test_salvage_refuses_an_update_holding_a_lone_surrogate_and_keeps_the_others() -> None:
    body = wh.encode(
        wh.webhook(
            {
                "contacts": [wh.contact("1")],
                "messages": [wh.text_message("ok", "1", 1), wh.text_message("bad\ud800", "1", 2)],
            }
        )
    )
    assert b"\\ud800" in body
    salvaged = salvage(body)
    assert salvaged is not None
    assert [u.idempotency_key for u in normalize(salvaged.valid)] == ["msg:ok"]
    assert salvaged.rejected["entry"][0]["changes"][0]["value"]["messages"][0]["id"] == "bad\ud800"
    assert len(salvaged.reasons) == 1


@pytest.mark.parametrize(
    "value",
    [{"messages": 5}, {"statuses": {"id": "s"}}, {"messages": "text"}],
)
def test_salvage_gives_up_on_update_lists_that_are_not_lists(value: dict) -> None:  # type: ignore[type-arg]
    document = wh.webhook(value)
    with pytest.raises(ValidationError):
        parse_webhook(wh.encode(document))
    assert salvage(wh.encode(document)) is None


def test_salvage_gives_up_on_changes_without_a_field_or_that_are_not_a_list() -> None:
    no_field = wh.webhook({"messages": [wh.text_message("m", "1", 1)]})
    del no_field["entry"][0]["changes"][0]["field"]
    assert salvage(wh.encode(no_field)) is None
    not_a_list = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": 5}]}
    assert salvage(wh.encode(not_a_list)) is None


# -- coexistence: replies from the WhatsApp Business app and the chat history -------------------


def test_an_smb_message_echo_is_a_message_the_business_sent_from_the_app() -> None:
    [update] = updates_of(wh.sample("meta_docs_smb_message_echoes.json"))
    assert isinstance(update, StatusUpdate)
    # the key a "sent" status of the same message would have: counted once whichever comes
    assert update.idempotency_key == "status:wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA:sent"
    assert update.status is MessageStatus.SENT
    assert update.timestamp == 1750276112
    assert update.contact is not None and update.contact.phone == "16505551234"
    assert update.service_mode == "app"
    assert not update.backfill


def test_a_history_chunk_is_the_customers_messages_in_and_the_businesss_out() -> None:
    updates = updates_of(wh.sample("meta_docs_history.json"))
    inbound = [u for u in updates if isinstance(u, InboundMessage)]
    sent = [u for u in updates if isinstance(u, StatusUpdate)]
    assert [(u.message_id, u.contact.phone, u.timestamp, u.backfill) for u in inbound] == [
        ("wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQUFFMzY4MkI0QkQ2Q0E2QTY0MgA=", "16505551234", 1750190400, True)
    ]
    out_id = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBJCNjBCMEE3QjJGMjY4QkEwNkIA"
    # history_context.status READ: sent, delivered and read, as the live statuses would say
    assert [(u.idempotency_key, u.status) for u in sent] == [
        (f"status:{out_id}:sent", MessageStatus.SENT),
        (f"status:{out_id}:delivered", MessageStatus.DELIVERED),
        (f"status:{out_id}:read", MessageStatus.READ),
    ]
    assert all(u.service_mode == "app" and u.backfill and u.timestamp == 1750191000 for u in sent)
    assert all(u.contact is not None and u.contact.phone == "16505551234" for u in sent)


def test_salvage_parks_a_broken_echo_and_keeps_the_good_one() -> None:
    good = {"from": "15550783881", "to": "16505551234", "id": "wamid.E1", "timestamp": "1750276112"}
    bad = {**good, "id": "wamid." + "A" * 3000}
    body = wh.encode(wh.webhook({"message_echoes": [good, bad]}, field="smb_message_echoes"))
    with pytest.raises(ValidationError):
        parse_webhook(body)
    salvaged = salvage(body)
    assert salvaged is not None
    assert [u.idempotency_key for u in normalize(salvaged.valid)] == ["status:wamid.E1:sent"]
    assert salvaged.reasons == ("message_echoes[1].id: String should have at most 200 characters",)
