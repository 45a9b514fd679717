"""CM.com's events endpoint: our MarkAsRead request against the one CM.com documents
(events/payloads/cm_docs_event_markasread_request.json), and the stand-in judging both alike."""

from __future__ import annotations

import json

import pytest

from devstack.standins import ShapeError, check_cm
from tests.support.webhooks import PAYLOADS
from wa_conversions.cm_channel.commands import EventCommand, EventType

DOCUMENTED = json.loads((PAYLOADS / "cm_docs_event_markasread_request.json").read_text())
TOKEN = {"x-cm-producttoken": "00000000-0000-4000-8000-000000000000"}


def shape(document: object) -> object:
    """The keys of a JSON document, recursively, with the values left out."""
    if isinstance(document, dict):
        return {key: shape(value) for key, value in document.items()}
    return type(document).__name__


def test_our_mark_as_read_has_the_documented_shape_and_values() -> None:
    command = EventCommand(type=EventType.MARK_AS_READ, phone="316012345678", message_id="wamid.ABC=")
    body = command.request_body("316098765432")
    assert shape(body) == shape(DOCUMENTED)
    assert body["event"] == {"type": "MarkAsRead", "custom": {"message_id": "wamid.ABC="}}
    # CM.com writes numbers with the international 00 prefix; the business is the sender.
    assert body["from"] == DOCUMENTED["from"] == {"number": "00316098765432"}
    assert body["to"] == DOCUMENTED["to"] == {"number": "00316012345678"}


def test_the_stand_in_accepts_the_documented_request_and_refuses_a_broken_one() -> None:
    check_cm(DOCUMENTED, TOKEN)
    broken = {**DOCUMENTED, "event": {"type": "MarkAsRead", "custom": {}}}
    with pytest.raises(ShapeError, match="message_id"):
        check_cm(broken, TOKEN)
