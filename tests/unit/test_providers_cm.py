"""CM.com's webhooks as domain updates (providers.cm): the cases test_cm_parsing.py leaves out, the
report codes, CM's notations of time, a raw payload from someone else, and users known by id alone."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.support import webhooks as wh
from wa_conversions.models.domain import InboundMessage, MessageStatus, MessageType, StatusUpdate
from wa_conversions.providers import cm

MO = "cm_constructed_mo_text.json"
MO_RAW = "cm_constructed_mo_raw_referral.json"
REPORT = "cm_constructed_status_report_delivered.json"
PROCESSED_AT = 1_767_225_600


def report(**msg: Any) -> StatusUpdate:
    document = wh.sample_json(REPORT)
    document["messages"]["msg"].update(msg)
    [update] = cm.parse_webhook(json.dumps(document))
    assert isinstance(update, StatusUpdate)
    return update


def mo(document: dict[str, Any]) -> InboundMessage:
    [update] = cm.parse_webhook(json.dumps(document))
    assert isinstance(update, InboundMessage)
    return update


@pytest.fixture
def processing_time(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(time, "time", lambda: PROCESSED_AT + 0.7)
    return PROCESSED_AT


# -- status reports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "raw", "status"),
    [
        ("0", "accepted", MessageStatus.SENT),
        (0, "accepted", MessageStatus.SENT),
        ("1", "rejected", MessageStatus.FAILED),
        (" 2 ", "delivered", MessageStatus.DELIVERED),
        ("3", "failed", MessageStatus.FAILED),
    ],
)
def test_each_report_code_keeps_its_raw_name_beside_the_status(
    code: Any, raw: str, status: MessageStatus
) -> None:
    update = report(status={"code": code})
    assert (update.status, update.raw_status) == (status, raw)
    assert update.idempotency_key == f"status:order-1001-confirmation:{raw}"


def test_a_report_without_a_code_is_an_unknown_status() -> None:
    update = report(status={})
    assert (update.status, update.raw_status) == (MessageStatus.UNKNOWN, "unknown")


def test_a_rejection_carries_its_error_and_a_success_never_does() -> None:
    rejected = report(status={"code": "1", "errorCode": "7", "errorDescription": "Not on WhatsApp"})
    [error] = rejected.errors
    assert (error.code, error.title, error.message) == (7, "rejected", "Not on WhatsApp")
    delivered = report(status={"code": "2", "errorCode": "0", "errorDescription": "Delivered"})
    assert delivered.errors == ()


@pytest.mark.parametrize("error_code", ["E-13", "9" * 30])
def test_an_error_code_no_integer_column_could_hold_is_kept_without_its_number(error_code: str) -> None:
    [error] = report(status={"code": "3", "errorCode": error_code, "errorDescription": "x"}).errors
    assert (error.code, error.message) == (None, "x")


def test_a_failure_that_says_nothing_has_no_error() -> None:
    assert report(status={"code": "3", "errorCode": "", "errorDescription": ""}).errors == ()


def test_a_report_without_a_recipient_has_no_contact() -> None:
    assert report(to=None).contact is None
    assert report(to=316012345678).contact is not None  # a number written as a JSON number


@pytest.mark.parametrize(
    ("received", "epoch"),
    [
        ("2025-06-18T19:47:10", 1_750_276_030),  # CM's UTC without a zone
        ("2025-06-18T19:47:10Z", 1_750_276_030),
        ("2025-06-18T21:47:10+02:00", 1_750_276_030),
        ("2025-06-18 19:47:10.250", 1_750_276_030),
        ("1750276030", 1_750_276_030),
        (1_750_276_030, 1_750_276_030),
    ],
)
def test_cm_s_notations_of_time_are_read(received: Any, epoch: int) -> None:
    assert report(received=received).timestamp == epoch


@pytest.mark.parametrize("received", [None, "", "yesterday", "9" * 13, -5, "1969-01-01T00:00:00"])
def test_a_time_that_cannot_be_read_is_the_time_of_processing(processing_time: int, received: Any) -> None:
    expected = 0 if received == "1969-01-01T00:00:00" else processing_time  # before 1970: the epoch
    assert report(received=received).timestamp == expected


# -- MO messages ----------------------------------------------------------------------------------


def test_a_raw_payload_from_another_sender_is_not_this_message_s() -> None:
    document = wh.sample_json(MO_RAW)
    document["rawPayload"]["from"] = "15550001111"
    message = mo(document)
    assert message.message_id.startswith("cm:")
    assert (message.referral, message.referral_known) == (None, False)


@pytest.mark.parametrize(
    "raw", ["{not json", 42, [], {"messages": [{"from": "447700900123", "type": "text"}]}]
)
def test_a_raw_payload_that_holds_no_message_leaves_the_derived_id(raw: Any) -> None:
    document = wh.sample_json(MO_RAW)
    document["rawPayload"] = raw
    message = mo(document)
    assert message.message_id.startswith("cm:") and not message.referral_known


def test_a_raw_payload_s_message_type_is_meta_s() -> None:
    document = wh.sample_json(MO_RAW)
    document["rawPayload"]["type"] = "image"
    message = mo(document)
    assert (message.type, message.raw_type) == (MessageType.IMAGE, "image")


def test_a_user_known_by_user_id_alone_is_keyed_on_it() -> None:
    document = wh.sample_json(MO)
    document["from"] = {"userId": "US.1", "parentUserId": "US.P", "username": "ana.b", "name": ""}
    message = mo(document)
    assert message.contact.phone is None
    assert (message.contact.user_id, message.contact.parent_user_id) == ("US.1", "US.P")
    assert (message.contact.username, message.contact.name) == ("ana.b", None)
    other = dict(document, **{"from": {"userId": "US.2"}})
    assert mo(other).message_id != message.message_id  # the user is part of the derived id


def test_the_raw_payload_s_user_id_fills_in_for_cm_s() -> None:
    document = wh.sample_json(MO_RAW)
    document["rawPayload"]["from_user_id"] = "US.9"
    assert mo(document).contact.user_id == "US.9"


@pytest.mark.parametrize(
    ("content", "kind", "raw_type"),
    [
        ({"media": {"mimeType": "audio/ogg"}}, MessageType.AUDIO, "media"),
        ({"media": "not an object", "text": "hi"}, MessageType.TEXT, "text"),
        ({"contacts": [{"name": "Ana"}]}, MessageType.CONTACTS, "contacts"),
        ({"contact": {"name": "Ana"}}, MessageType.CONTACTS, "contacts"),
        ({"interactive": {"type": "button_reply"}}, MessageType.INTERACTIVE, "interactive"),
        ({"suggestions": [{"text": "Yes"}]}, MessageType.INTERACTIVE, "interactive"),
    ],
)
def test_more_cm_contents_are_typed(content: dict[str, Any], kind: MessageType, raw_type: str) -> None:
    message = mo(dict(wh.sample_json(MO), message=content))
    assert (message.type, message.raw_type) == (kind, raw_type)


def test_a_message_without_text_has_no_text_length() -> None:
    message = mo(dict(wh.sample_json(MO), message={"location": {"latitude": 52.1}}))
    assert (message.text, message.text_length) == (None, None)


def test_a_message_to_no_number_names_no_business_number() -> None:
    document = wh.sample_json(MO)
    del document["to"]
    assert mo(document).account.display_phone_number is None


@pytest.mark.parametrize("channel", ["whatsapp", "WHATSAPP", None])
def test_the_whatsapp_channel_in_any_case_or_none_is_read(channel: str | None) -> None:
    document = dict(wh.sample_json(MO), channel=channel)
    assert len(cm.parse_webhook(json.dumps(document))) == 1


def test_retries_of_a_message_at_another_time_are_other_messages() -> None:
    document = wh.sample_json(MO)
    later = dict(document, timeUtc="2025-06-18T19:46:33")
    assert mo(later).message_id != mo(document).message_id
