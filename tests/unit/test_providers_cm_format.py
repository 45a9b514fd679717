"""CM.com's notations (providers.cm_format): numbers both ways, and which webhook a decoded body is."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import webhooks as wh
from wa_conversions.providers.cm_format import cm_number, international_digits, webhook_kind


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("31612345678", "0031612345678"),
        ("+31612345678", "0031612345678"),
        ("0031612345678", "0031612345678"),
        ("+31 6 1234-5678", "0031612345678"),
    ],
)
def test_a_number_is_written_as_cm_s_event_requests_spell_it(given: str, expected: str) -> None:
    assert cm_number(given) == expected


def test_a_number_survives_the_trip_to_cm_s_notation_and_back() -> None:
    assert international_digits(cm_number("+447700900123")) == "447700900123"


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("  00447700900123", "447700900123"),  # the 00 prefix is found past leading blanks
        ("+44 7700 900123", "447700900123"),
        ("00", None),
        ("no digits", None),
        (None, None),
    ],
)
def test_international_digits_of_unusual_notations(raw: str | None, digits: str | None) -> None:
    assert international_digits(raw) == digits


@pytest.mark.parametrize(
    ("sample", "kind"),
    [
        ("cm_constructed_mo_text.json", "message"),
        ("cm_constructed_status_report_delivered.json", "status_report"),
    ],
)
def test_the_samples_are_told_apart(sample: str, kind: str) -> None:
    assert webhook_kind(json.loads(wh.sample(sample))) == kind


def test_a_report_of_several_messages_is_a_status_report() -> None:
    document = wh.sample_json("cm_constructed_status_report_delivered.json")
    document["messages"]["msg"] = [document["messages"]["msg"], document["messages"]["msg"]]
    assert webhook_kind(document) == "status_report"


def test_an_mo_from_a_user_known_only_by_user_id_is_a_message() -> None:
    assert webhook_kind({"from": {"userId": "US.1"}, "message": {"text": "hi"}}) == "message"


def test_cm_coms_own_event_request_is_no_inbound_message() -> None:
    # The MarkAsRead request from CM.com's events page has from and to like an MO, but no message:
    # read as one, it became a phantom inbound message from the business's own number.
    assert webhook_kind(wh.sample_json("cm_docs_event_markasread_request.json")) is None


@pytest.mark.parametrize(
    "document",
    [
        None,
        ["cm"],
        "text",
        {"messages": {"msg": "delivered"}},
        {"messages": [{"msg": {}}]},
        {"from": {"number": 31612345678}, "message": {"text": "hi"}},
        {"from": "+31612345678", "message": {"text": "hi"}},
        {"from": {"number": "+31612345678"}, "message": "hi"},
        {"from": {"name": "Demo"}, "message": {"text": "hi"}},
    ],
)
def test_anything_else_is_neither_format(document: Any) -> None:
    assert webhook_kind(document) is None
