"""CM.com's MO messages and status reports become the same domain updates as Meta's."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tests.support import webhooks as wh
from wa_conversions.capture import cm_ingest
from wa_conversions.errors import BadRequestError, UnauthorizedError
from wa_conversions.models.domain import Channel, InboundMessage, MessageStatus, MessageType, StatusUpdate
from wa_conversions.providers import cm, cm_format

MO = "cm_constructed_mo_text.json"
MO_RAW = "cm_constructed_mo_raw_referral.json"
REPORT = "cm_constructed_status_report_delivered.json"


def _document(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads(wh.sample(name))


def _only(updates: list) -> InboundMessage | StatusUpdate:  # type: ignore[type-arg]
    assert len(updates) == 1
    update = updates[0]
    assert isinstance(update, InboundMessage | StatusUpdate)
    return update


def test_mo_text_becomes_an_inbound_message_of_channel_cm() -> None:
    message = _only(cm.parse_webhook(wh.sample(MO)))
    assert isinstance(message, InboundMessage)
    assert message.channel is Channel.CM
    assert message.contact.phone == "316012345678"
    assert message.contact.name == "Demo"
    assert message.account.display_phone_number == "31612345678"
    assert message.type is MessageType.TEXT
    assert message.timestamp == 1750275992  # 2025-06-18T19:46:32 UTC
    assert message.referral is None
    assert message.referral_known is False
    assert message.text_length == len("Hi! Do you ship to Utrecht?")
    assert message.idempotency_key == f"msg:{message.message_id}"


def test_mo_without_wamid_is_keyed_on_a_digest_stable_across_retries() -> None:
    first = _only(cm.parse_webhook(wh.sample(MO)))
    # CM retries the same message, possibly serialised differently and with fields it added.
    document = _document(MO)
    reordered = {key: document[key] for key in reversed(list(document))}
    reordered["newCmField"] = {"anything": True}
    retried = _only(cm.parse_webhook(json.dumps(reordered, indent=4)))
    assert retried.message_id == first.message_id
    assert first.message_id.startswith("cm:")
    other = dict(document, message={"text": "Another question"})
    assert _only(cm.parse_webhook(json.dumps(other))).message_id != first.message_id


def test_raw_payload_gives_the_wamid_and_the_ad_click() -> None:
    message = _only(cm.parse_webhook(wh.sample(MO_RAW)))
    assert isinstance(message, InboundMessage)
    assert message.message_id == "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUM0FDTUNUV0FSRUZFUlJBTDAwMQA="
    assert message.idempotency_key == f"msg:{message.message_id}"
    assert message.contact.phone == "447700900123"  # from "00447700900123"
    assert message.referral_known is True
    assert message.referral is not None
    assert message.referral.ctwa_clid is not None
    assert message.referral.ctwa_clid.startswith("Aff-n8ZT")
    assert message.referral.source_id == "120226305854810726"
    assert message.timestamp == 1750276200


@pytest.mark.parametrize("wrap", ["string", "webhook", "value"])
def test_raw_payload_is_found_as_json_string_whole_webhook_or_change_value(wrap: str) -> None:
    document = _document(MO_RAW)
    bare = document["rawPayload"]
    value = {"messaging_product": "whatsapp", "messages": [bare]}
    document["rawPayload"] = {
        "string": json.dumps(bare),
        "webhook": {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
        },
        "value": value,
    }[wrap]
    message = _only(cm.parse_webhook(json.dumps(document)))
    assert isinstance(message, InboundMessage)
    assert message.message_id.startswith("wamid.")
    assert message.referral is not None


def test_raw_payload_without_referral_means_no_ad_click_but_known() -> None:
    document = _document(MO_RAW)
    del document["rawPayload"]["referral"]
    message = _only(cm.parse_webhook(json.dumps(document)))
    assert isinstance(message, InboundMessage)
    assert message.referral is None
    assert message.referral_known is True


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            {
                "media": {
                    "mediaName": "a.jpg",
                    "mediaUri": "https://cdn-1.messaging.cm.com/x",
                    "mimeType": "image/jpeg",
                }
            },
            MessageType.IMAGE,
        ),
        ({"media": {"mimeType": "image/webp"}}, MessageType.STICKER),
        ({"media": {"mimeType": "video/mp4"}}, MessageType.VIDEO),
        ({"media": {"mimeType": "application/pdf"}}, MessageType.DOCUMENT),
        ({"location": {"latitude": 52.1, "longtitude": 5.1, "label": "Utrecht"}}, MessageType.LOCATION),
        ({"somethingNew": {}}, MessageType.UNKNOWN),
    ],
)
def test_message_types_from_cm_content(content: dict, expected: MessageType) -> None:  # type: ignore[type-arg]
    document = dict(_document(MO), message=content)
    message = _only(cm.parse_webhook(json.dumps(document)))
    assert isinstance(message, InboundMessage)
    assert message.type is expected


def test_non_whatsapp_mo_is_ignored() -> None:
    document = dict(_document(MO), channel="SMS")
    assert cm.parse_webhook(json.dumps(document)) == []


def test_status_report_is_joined_on_reference() -> None:
    status = _only(cm.parse_webhook(wh.sample(REPORT)))
    assert isinstance(status, StatusUpdate)
    assert status.channel is Channel.CM
    assert status.message_id == "order-1001-confirmation"
    assert status.status is MessageStatus.DELIVERED
    assert status.raw_status == "delivered"
    assert status.idempotency_key == "status:order-1001-confirmation:delivered"
    assert status.contact is not None
    assert status.contact.phone == "316012345678"
    assert status.errors == ()


def test_failed_report_carries_its_error_and_several_msgs_are_read() -> None:
    document = _document(REPORT)
    failed = dict(
        document["messages"]["msg"],
        reference="other",
        status={"code": 3, "errorCode": "13", "errorDescription": "Recipient not on WhatsApp"},
    )
    document["messages"]["msg"] = [document["messages"]["msg"], failed]
    updates = cm.parse_webhook(json.dumps(document))
    assert [u.message_id for u in updates] == ["order-1001-confirmation", "other"]
    second = updates[1]
    assert isinstance(second, StatusUpdate)
    assert second.status is MessageStatus.FAILED
    assert second.errors[0].code == 13
    assert second.errors[0].message == "Recipient not on WhatsApp"


def test_unknown_status_code_is_kept_raw_as_unknown() -> None:
    document = _document(REPORT)
    document["messages"]["msg"]["status"]["code"] = "9"
    status = _only(cm.parse_webhook(json.dumps(document)))
    assert isinstance(status, StatusUpdate)
    assert status.status is MessageStatus.UNKNOWN
    assert status.raw_status == "9"


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("+316012345678", "316012345678"),
        ("00316012345678", "316012345678"),
        ("316012345678", "316012345678"),
        ("", None),
    ],
)
def test_international_digits(raw: str, digits: str | None) -> None:
    assert cm_format.international_digits(raw) == digits


def test_not_a_cm_body_is_a_format_error() -> None:
    with pytest.raises(cm.CmFormatError):
        cm.parse_webhook(b'{"object": "whatsapp_business_account", "entry": []}')
    with pytest.raises(cm.CmFormatError):
        cm.parse_webhook(b"not json")
    with pytest.raises(ValidationError):
        cm.parse_webhook(b'{"messages": {"msg": {"to": "0031"}}}')  # no reference


def test_ack_checks_token_then_shape() -> None:
    with pytest.raises(UnauthorizedError):
        cm_ingest.check_token(None, "secret")
    with pytest.raises(UnauthorizedError):
        cm_ingest.check_token("wrong", "secret")
    cm_ingest.check_token("secret", "secret")
    assert cm_ingest.read_webhook(wh.sample(MO)) == "message"
    assert cm_ingest.read_webhook(wh.sample(REPORT)) == "status_report"
    for body in (b"[]", b"{}", b'{"from": "+31"}', b"<xml/>"):
        with pytest.raises(BadRequestError):
            cm_ingest.read_webhook(body)


def test_raw_payload_without_meta_timestamp_still_gives_the_wamid_at_cm_time() -> None:
    document = _document(MO_RAW)
    del document["rawPayload"]["timestamp"]
    message = _only(cm.parse_webhook(json.dumps(document)))
    assert message.message_id.startswith("wamid.")
    assert message.timestamp == 1750276200  # timeUtc 2025-06-18T19:50:00
